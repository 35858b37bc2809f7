"""The audit chain on both stores: append-only protection, and `verify` naming the first bad
record after every kind of tampering (the attacks are written first, each bypassing the
append-only triggers the way a user with file or superuser access could)."""

from __future__ import annotations

import io
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from kitelogik.audit import (
    AuditLog,
    Signer,
    SQLiteAuditStore,
    chain_hash,
    export,
    load_anchors,
    verify,
)
from kitelogik.audit.records import prepare_record
from kitelogik.decision import Decision, new_decision_id

N = 50  # records per log; checkpoints every 10


def make_decision(i: int, verdict: str = "allow", **kw: Any) -> Decision:
    return Decision(
        id=new_decision_id(),
        verdict=verdict,  # type: ignore[arg-type]
        reasons=() if verdict == "allow" else ("no",),
        risk_tier="low",
        rules=("test.rule",),
        engine="rego",
        latency=0.00002,
        event_type="tool_call",
        action=f"act{i % 3}",
        session_id="s1",
        args={"i": i},
        **kw,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "sqlite":
        path = tmp_path / "audit.db"

        def make(durable: bool = True) -> Any:
            return SQLiteAuditStore(path, durable=durable)

        return {"kind": "sqlite", "make": make, "path": path}
    psycopg = pytest.importorskip("psycopg")
    from kitelogik.audit import PostgresAuditStore

    dsn = request.getfixturevalue("postgres_dsn")
    name = "kl_" + uuid.uuid4().hex[:12]
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    db_dsn = dsn.rsplit("/", 1)[0] + "/" + name

    def make_pg(durable: bool = True) -> Any:
        return PostgresAuditStore(db_dsn, durable=durable)

    return {"kind": "postgres", "make": make_pg, "dsn": db_dsn}


def tamper(backend: dict[str, Any], sql: str, params: tuple[Any, ...] = ()) -> None:
    """Run SQL with the append-only protection switched off, as an attacker with direct
    access would."""
    if backend["kind"] == "sqlite":
        c = sqlite3.connect(backend["path"])
        for (name,) in c.execute("SELECT name FROM sqlite_master WHERE type='trigger'"):
            c.execute(f"DROP TRIGGER {name}")
        c.execute(sql, params)
        c.commit()
        c.close()
    else:
        import psycopg

        with psycopg.connect(backend["dsn"], autocommit=True) as c:
            c.execute("SET session_replication_role = replica")  # superuser: triggers off
            c.execute(sql.replace("?", "%s"), params)


def fetch(backend: dict[str, Any], sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    if backend["kind"] == "sqlite":
        c = sqlite3.connect(backend["path"])
        try:
            return c.execute(sql, params).fetchall()
        finally:
            c.close()
    import psycopg

    with psycopg.connect(backend["dsn"]) as c:
        return c.execute(sql.replace("?", "%s"), params).fetchall()


@pytest.fixture
def signer() -> Signer:
    return Signer.generate()


@pytest.fixture
def filled(backend: dict[str, Any], signer: Signer) -> dict[str, Any]:
    store = backend["make"]()
    with AuditLog(
        store, mode="strict", signer=signer, checkpoint_every=10, checkpoint_seconds=3600
    ) as sink:
        for i in range(N):
            sink.record_decision(make_decision(i, "allow" if i % 4 else "deny"))
    backend["store"] = backend["make"]()
    backend["key"] = signer.public_raw
    return backend


def check(b: dict[str, Any], **kw: Any) -> Any:
    return verify(b["store"], public_keys=[b["key"]], **kw)


def rewrite(b: dict[str, Any], rows: list[tuple[Any, ...]]) -> None:
    tamper(b, "DELETE FROM audit_records")
    for r in rows:
        tamper(b, "INSERT INTO audit_records VALUES (?,?,?,?,?,?,?,?,?,?,?)", tuple(r))


def all_rows(b: dict[str, Any]) -> list[list[Any]]:
    return [list(r) for r in fetch(b, "SELECT * FROM audit_records ORDER BY seq")]


def rehash_from(rows: list[list[Any]], start_index: int) -> None:
    import hashlib

    for i in range(start_index, len(rows)):
        prev = rows[i - 1][9] if i else "0" * 64
        ch = hashlib.sha256(rows[i][7].encode()).hexdigest()
        rows[i][8] = prev
        rows[i][9] = chain_hash(ch, prev, rows[i][0])


# ---------------------------------------------------------------------------- intact log


def test_intact_log_verifies_and_is_fully_signed(filled: dict[str, Any]) -> None:
    r = check(filled)
    assert r.ok, r.problem
    assert r.records == N and r.last_seq == N
    assert r.checkpoints >= N // 10 and r.last_signed_seq == N and r.unsigned_tail == 0
    assert not r.warnings


def test_records_hold_what_the_gate_decided(filled: dict[str, Any]) -> None:
    rows = list(filled["store"].rows())
    body = json.loads(rows[1].body)
    assert body["kind"] == "decision" and body["v"] == 1
    assert body["data"]["verdict"] == "allow" and body["data"]["args"] == {"i": 1}
    assert rows[0].verdict == "deny" and rows[1].action == "act1"


def test_append_only_triggers_reject_update_and_delete(filled: dict[str, Any]) -> None:
    b = filled
    if b["kind"] == "sqlite":
        c = sqlite3.connect(b["path"])
        for sql in (
            "UPDATE audit_records SET verdict='allow' WHERE seq=1",
            "DELETE FROM audit_records WHERE seq=1",
            "DELETE FROM audit_checkpoints",
            "UPDATE audit_meta SET value='x'",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                c.execute(sql)
        c.close()
    else:
        import psycopg

        with psycopg.connect(b["dsn"], autocommit=True) as c:
            for sql in (
                "UPDATE audit_records SET verdict='allow' WHERE seq=1",
                "DELETE FROM audit_records WHERE seq=1",
                "TRUNCATE audit_records",
                "DELETE FROM audit_checkpoints",
            ):
                with pytest.raises(psycopg.Error, match="append-only"):
                    c.execute(sql)
    assert fetch(b, "SELECT count(*) FROM audit_records")[0][0] == N
    assert check(b).ok


# ---------------------------------------------------------------------------- attacks


def test_modified_record_is_named(filled: dict[str, Any]) -> None:
    body = fetch(filled, "SELECT body FROM audit_records WHERE seq=25")[0][0]
    forged = body.replace('"engine":"rego"', '"engine":"opa"')
    assert forged != body
    tamper(filled, "UPDATE audit_records SET body=? WHERE seq=25", (forged,))
    r = check(filled)
    assert not r.ok and r.first_bad_seq == 25 and "modified" in r.problem


def test_modified_and_rehashed_record_is_named(filled: dict[str, Any]) -> None:
    rows = all_rows(filled)
    rows[24][7] = rows[24][7].replace('"engine":"rego"', '"engine":"opa"')
    rehash_from(rows, 24)
    rows = [*rows[:25], *all_rows(filled)[25:]]  # only record 25 re-hashed
    rewrite(filled, [tuple(r) for r in rows])
    r = check(filled)
    assert not r.ok and r.first_bad_seq == 25 and "re-hashed" in r.problem


def test_changed_index_column_is_named(filled: dict[str, Any]) -> None:
    tamper(filled, "UPDATE audit_records SET verdict='allow' WHERE seq=9")
    r = check(filled)
    assert not r.ok and r.first_bad_seq == 9 and "verdict column" in r.problem


def test_deleted_record_is_named(filled: dict[str, Any]) -> None:
    tamper(filled, "DELETE FROM audit_records WHERE seq=25")
    r = check(filled)
    assert not r.ok and r.first_bad_seq == 25 and "missing" in r.problem


def test_deletion_with_renumbered_rehashed_tail_breaks_a_signed_checkpoint(
    filled: dict[str, Any],
) -> None:
    rows = all_rows(filled)
    del rows[24]
    for i in range(24, len(rows)):
        rows[i][0] -= 1
    rehash_from(rows, 24)
    rewrite(filled, [tuple(r) for r in rows])
    r = check(filled)
    assert not r.ok and r.first_bad_seq == 21
    assert "rewritten between record 21 and record 30" in r.problem


def test_inserted_record_is_named(filled: dict[str, Any]) -> None:
    rows = all_rows(filled)
    fake = prepare_record(
        "decision",
        1,
        {"decision_id": "forged", "verdict": "allow", "action": "act1", "session_id": "s1"},
        None,
    )
    prev = rows[23][9]
    new = [
        25,
        fake.ts,
        fake.kind,
        fake.decision_id,
        fake.verdict,
        fake.action,
        fake.session_id,
        fake.body,
        prev,
        chain_hash(fake.content_hash, prev, 25),
        None,
    ]
    for r in rows[24:]:
        r[0] += 1
    rewrite(filled, [tuple(r) for r in [*rows[:24], new, *rows[24:]]])
    r = check(filled)
    assert not r.ok and r.first_bad_seq == 25 and "inserted" in r.problem


def test_reordered_records_are_named(filled: dict[str, Any]) -> None:
    rows = all_rows(filled)
    rows[24][0], rows[25][0] = 26, 25
    rewrite(filled, [tuple(r) for r in rows])
    r = check(filled)
    assert not r.ok and r.first_bad_seq == 25


def test_swapped_bodies_are_named(filled: dict[str, Any]) -> None:
    rows = all_rows(filled)
    rows[29][7], rows[30][7] = rows[30][7], rows[29][7]
    rewrite(filled, [tuple(r) for r in rows])
    r = check(filled)
    assert not r.ok and r.first_bad_seq == 30


def test_truncation_is_caught_by_the_stored_checkpoint(filled: dict[str, Any]) -> None:
    tamper(filled, "DELETE FROM audit_records WHERE seq > 41")
    r = check(filled)
    assert not r.ok and r.first_bad_seq == 42 and "truncated" in r.problem


def test_truncation_of_records_and_checkpoints_is_caught_by_exported_anchors(
    filled: dict[str, Any],
) -> None:
    buf = io.StringIO()
    export(filled["store"], buf, "jsonl", checkpoints_only=True)
    anchors = load_anchors(buf.getvalue().splitlines())
    assert anchors and max(a.seq for a in anchors) == N
    tamper(filled, "DELETE FROM audit_records WHERE seq > 35")
    tamper(filled, "DELETE FROM audit_checkpoints WHERE seq > 35")
    assert check(filled).ok  # the store alone cannot know ...
    r = check(filled, anchors=anchors)  # ... the anchor kept outside can
    assert not r.ok and r.first_bad_seq == 36 and "anchor" in r.problem


def test_forged_checkpoint_signature_is_rejected(filled: dict[str, Any]) -> None:
    sig = fetch(filled, "SELECT signature FROM audit_checkpoints WHERE seq=20")[0][0]
    bad = ("0" if sig[0] != "0" else "1") + sig[1:]
    tamper(filled, "UPDATE audit_checkpoints SET signature=? WHERE seq=20", (bad,))
    r = check(filled)
    assert not r.ok and r.first_bad_seq == 20 and "bad signature" in r.problem


def test_log_resigned_with_another_key_is_rejected(filled: dict[str, Any]) -> None:
    # Rewrite a record, re-hash the whole tail and re-sign every checkpoint with the
    # attacker's own key: consistent, but not signed by the key the auditor trusts.
    from kitelogik.audit.store import make_checkpoint

    rows = all_rows(filled)
    rows[4][7] = rows[4][7].replace('"engine":"rego"', '"engine":"opa"')
    rehash_from(rows, 4)
    rewrite(filled, [tuple(r) for r in rows])
    evil = Signer.generate()
    tamper(filled, "DELETE FROM audit_checkpoints")
    log_id = filled["store"].log_id()
    for seq in (10, 20, 30, 40, 50):
        cp = make_checkpoint(log_id, seq, rows[seq - 1][9], evil)
        tamper(
            filled,
            "INSERT INTO audit_checkpoints VALUES (?,?,?,?,?,?,?)",
            (cp.seq, cp.ts, cp.hash, cp.key_id, cp.public_key, cp.signature, cp.payload),
        )
    r = check(filled)
    assert not r.ok and "untrusted key" in r.problem
    # Without a trusted key the log is self-consistent; verify says what it could not prove.
    r2 = verify(filled["store"])
    assert r2.ok and any("integrity, not authorship" in w for w in r2.warnings)


def test_export_jsonl_and_csv_hold_records_and_checkpoints(filled: dict[str, Any]) -> None:
    buf = io.StringIO()
    export(filled["store"], buf, "jsonl")
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert lines[0]["type"] == "log" and lines[0]["public_keys"] == [filled["key"].hex()]
    recs = [x for x in lines if x["type"] == "record"]
    cps = [x for x in lines if x["type"] == "checkpoint"]
    assert len(recs) == N and cps
    # Every exported record re-hashes to its stored hash (the export is verifiable offline).
    import hashlib

    from kitelogik.jcs import canonical_json

    prev = "0" * 64
    for x in recs:
        ch = hashlib.sha256(canonical_json(x["record"]).encode()).hexdigest()
        assert chain_hash(ch, prev, x["seq"]) == x["hash"]
        prev = x["hash"]
    buf = io.StringIO()
    export(filled["store"], buf, "csv")
    import csv

    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert sum(r["type"] == "record" for r in rows) == N
    assert sum(r["type"] == "checkpoint" for r in rows) == len(cps)


def test_postgres_writer_role_can_append_but_never_update_delete_or_untrigger(
    postgres_dsn: str,
) -> None:
    psycopg = pytest.importorskip("psycopg")
    from kitelogik.audit import PostgresAuditStore

    name = "kl_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_dsn, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    owner = postgres_dsn.rsplit("/", 1)[0] + "/" + name
    PostgresAuditStore.install(owner, writer_role="kl_audit_writer_t")
    writer = owner.replace("postgresql://kl@", "postgresql://kl_audit_writer_t@")
    signer = Signer.generate()
    # The writer role runs the whole pipeline: append, chain, checkpoints.
    with AuditLog(
        PostgresAuditStore(writer, create=False), mode="strict", signer=signer, checkpoint_every=2
    ) as sink:
        for i in range(5):
            sink.record_decision(make_decision(i))
    with psycopg.connect(writer, autocommit=True) as c:
        for sql in (
            "UPDATE audit_records SET verdict='deny'",
            "DELETE FROM audit_records",
            "DELETE FROM audit_checkpoints",
            "TRUNCATE audit_records",
            "ALTER TABLE audit_records DISABLE TRIGGER USER",
            "DROP TRIGGER audit_records_append_only ON audit_records",
            "SET session_replication_role = replica",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                c.execute(sql)
    r = verify(PostgresAuditStore(owner, create=False), public_keys=[signer.public_raw])
    assert r.ok and r.records == 5 and r.last_signed_seq == 5


def test_verify_warns_when_append_only_protection_was_removed(filled: dict[str, Any]) -> None:
    assert not check(filled).warnings
    if filled["kind"] == "sqlite":
        tamper(filled, "SELECT 1")  # drops the triggers
    else:
        tamper(filled, "ALTER TABLE audit_records DISABLE TRIGGER USER")
    r = check(filled)
    assert r.ok  # nothing was changed yet ...
    assert any("append-only protection is missing" in w for w in r.warnings)  # ... but say so
