"""Several processes appending to one store keep one valid chain; a process killed with SIGKILL
mid-stream loses no record it acknowledged in strict mode, and the chain still verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from kitelogik.audit import AuditLog, Signer, SQLiteAuditStore, verify

WRITER = textwrap.dedent("""
    import json, sys, threading
    from kitelogik.audit import AuditLog, SQLiteAuditStore, Signer
    from kitelogik.decision import Decision, new_decision_id

    target, mode, n, threads, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), \\
        int(sys.argv[4]), sys.argv[5]
    journal = sys.argv[6] or "auto"
    if target.startswith("postgresql://"):
        from kitelogik.audit import PostgresAuditStore
        store = PostgresAuditStore(target, durable=mode == "strict")
    else:
        store = SQLiteAuditStore(target, durable=mode == "strict")
    sink = AuditLog(store, mode=mode, signer=Signer.from_file(key), checkpoint_every=25,
                    crash_journal=journal)
    out_lock = threading.Lock()

    def work(t):
        for i in range(n):
            d = Decision(id=new_decision_id(), verdict="allow", reasons=(), risk_tier="low",
                         rules=("r",), engine="rego", latency=1e-5, event_type="tool_call",
                         action=f"w{t}", session_id="s", args={"i": i})
            sink.record_decision(d)  # strict: returns once durable
            with out_lock:
                sys.stdout.write(d.id + "\\n")
                sys.stdout.flush()

    ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for t in ts: t.start()
    for t in ts: t.join()
    sink.close()
    print("END", flush=True)
""")


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "audit.db")
    psycopg = pytest.importorskip("psycopg")
    dsn = request.getfixturevalue("postgres_dsn")
    name = "kl_" + uuid.uuid4().hex[:12]
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    db = dsn.rsplit("/", 1)[0] + "/" + name
    from kitelogik.audit import PostgresAuditStore

    PostgresAuditStore(db).close()  # schema once, before the writers race
    return db


def open_target(target: str) -> Any:
    if target.startswith("postgresql://"):
        from kitelogik.audit import PostgresAuditStore

        return PostgresAuditStore(target)
    return SQLiteAuditStore(target)


def spawn(
    target: str, mode: str, n: int, threads: int, key: Path, journal: Path | None = None
) -> subprocess.Popen[str]:
    env = {**os.environ, "OTEL_SDK_DISABLED": "true"}
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            WRITER,
            target,
            mode,
            str(n),
            str(threads),
            str(key),
            str(journal or ""),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def ids_in(store: Any) -> list[str]:
    return [r.decision_id for r in store.rows()]


def test_several_processes_keep_one_valid_chain(target: str, tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    signer = Signer.from_file(key)
    procs = [spawn(target, mode, 60, 2, key) for mode in ("batched", "strict", "batched", "strict")]
    acked: list[str] = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        lines = out.split()
        assert lines[-1] == "END"
        acked += lines[:-1]
    store = open_target(target)
    r = verify(store, public_keys=[signer.public_raw])
    assert r.ok, r.problem
    assert r.records == 4 * 60 * 2 == len(acked)
    assert sorted(ids_in(store)) == sorted(acked)
    assert r.checkpoints >= 4 and r.last_signed_seq == r.last_seq


@pytest.mark.parametrize("mode", ["strict", "batched"])
def test_sigkill_mid_stream_loses_no_acknowledged_strict_record(
    target: str, tmp_path: Path, mode: str
) -> None:
    key = tmp_path / "k.key"
    signer = Signer.from_file(key)
    journal = tmp_path / "journal"
    p = spawn(target, mode, 100_000, 4, key, journal)
    acked: list[str] = []
    assert p.stdout is not None
    while len(acked) < 300:
        line = p.stdout.readline()
        assert line, p.stderr.read() if p.stderr else "writer died"
        acked.append(line.strip())
    committed = 0
    while committed == 0:  # let at least one batch commit before the kill
        line = p.stdout.readline()
        assert line, "writer died"
        acked.append(line.strip())
        committed = open_target(target).head()[0]
    os.kill(p.pid, signal.SIGKILL)  # mid-stream: writer threads and commits in flight
    rest = p.stdout.read()  # through the same buffered reader as readline above
    p.wait(timeout=60)
    acked += [x for x in rest.split("\n") if len(x) == 36]  # complete ids only
    assert p.returncode == -signal.SIGKILL
    store = open_target(target)
    r = verify(store, public_keys=[signer.public_raw])
    assert r.ok, r.problem  # a killed writer never leaves a broken chain
    stored = set(ids_in(store))
    assert r.records >= committed  # committed batches survive a crash
    if mode == "batched":
        # Records acknowledged but still queued are in the dead process's crash journal; the
        # next log opened on the store appends them.
        AuditLog(open_target(target), signer=signer, crash_journal=journal).close()
        r = verify(open_target(target), public_keys=[signer.public_raw])
        assert r.ok, r.problem
        stored = set(ids_in(open_target(target)))
        assert not list(journal.glob("*.journal"))  # recovered and removed
    missing = [a for a in acked if a not in stored]
    assert not missing, f"{len(missing)} acknowledged {mode} records lost"
    assert len(stored) == r.records  # nothing recovered twice


def test_fork_child_does_not_rewrite_parent_records(tmp_path: Path) -> None:
    from kitelogik.decision import Decision, new_decision_id

    def dec() -> Decision:
        return Decision(
            id=new_decision_id(),
            verdict="allow",
            reasons=(),
            risk_tier="low",
            rules=(),
            engine="rego",
            latency=0.0,
            action="a",
        )

    sink = AuditLog(tmp_path / "a.db", signer=Signer.generate())
    sink.record_decision(dec())
    sink.flush()
    pid = os.fork()
    if pid == 0:  # child: its own writer, its own connection
        try:
            sink.record_decision(dec())
            sink.close()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    sink.record_decision(dec())
    sink.close()
    r = verify(SQLiteAuditStore(tmp_path / "a.db"))
    assert r.ok and r.records == 3


CRASHER = textwrap.dedent("""
    import os, sys
    from kitelogik.audit import AuditLog, SQLiteAuditStore, Signer
    from kitelogik.decision import Decision, new_decision_id

    def dec(i):
        return Decision(id=new_decision_id(), verdict="allow", reasons=(), risk_tier="low",
                        rules=("r",), engine="rego", latency=1e-5, action="a",
                        session_id="s", args={"i": i, "api_key": "sk-secret"})

    sink = AuditLog(sys.argv[1], signer=Signer.from_file(sys.argv[2]),
                    crash_journal=sys.argv[3], batch_delay=0.0)
    for i in range(2):
        d = dec(i); sink.record_decision(d); print(d.id)
    sink.flush()                      # these two are committed ...
    sink.batch_delay = 3600.0         # ... these three only acknowledged
    for i in range(2, 5):
        d = dec(i); sink.record_decision(d); print(d.id, flush=True)
    os._exit(0)                       # dies without flushing (as a crash would)
""")


def test_orphaned_journal_is_recovered_exactly_once(tmp_path: Path) -> None:
    db, key, jdir = tmp_path / "a.db", tmp_path / "k.key", tmp_path / "journal"
    signer = Signer.from_file(key)
    # A live process's journal must not be touched by another process's recovery.
    live = AuditLog(db, signer=signer, crash_journal=jdir, batch_delay=3600.0)
    from kitelogik.decision import Decision, new_decision_id

    pending = Decision(
        id=new_decision_id(),
        verdict="allow",
        reasons=(),
        risk_tier="low",
        rules=(),
        engine="rego",
        latency=0.0,
        action="live",
    )
    live.record_decision(pending)
    out = subprocess.run(
        [sys.executable, "-c", CRASHER, str(db), str(key), str(jdir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    ids = out.stdout.split()
    assert len(ids) == 5
    assert len(list(SQLiteAuditStore(db).rows())) <= 2 + 1  # 3 acknowledged, not committed
    AuditLog(db, signer=signer, crash_journal=jdir).close()  # recovers the dead one
    AuditLog(db, signer=signer, crash_journal=jdir).close()  # nothing left to recover
    live.close()
    store = SQLiteAuditStore(db)
    got = [r.decision_id for r in store.rows()]
    assert sorted(got) == sorted([*ids, pending.id])  # all of them, each exactly once
    r = verify(store, public_keys=[signer.public_raw])
    assert r.ok and r.records == 6
    assert not list(jdir.glob("*.journal"))
    bodies = " ".join(row.body for row in store.rows())
    assert "sk-secret" not in bodies and "[REDACTED]" in bodies  # redacted on recovery too
