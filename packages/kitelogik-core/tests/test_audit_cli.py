"""`kitelogik audit verify|export|tail|stats` on real logs."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
from kitelogik.audit import AuditLog, Signer
from kitelogik.cli import app
from kitelogik.decision import Decision, new_decision_id
from typer.testing import CliRunner

runner = CliRunner()


def dec(action: str, verdict: str = "allow", rule: str = "r.ok") -> Decision:
    return Decision(
        id=new_decision_id(),
        verdict=verdict,  # type: ignore[arg-type]
        reasons=() if verdict == "allow" else (f"{action} is not allowed",),
        risk_tier="low",
        rules=(rule,),
        engine="rego",
        latency=1e-5,
        event_type="tool_call",
        action=action,
        session_id="s1",
        args={},
    )


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    with AuditLog(path, mode="strict", checkpoint_every=5) as sink:
        for i in range(12):
            sink.record_decision(
                dec(
                    "read" if i % 3 else "delete",
                    "allow" if i % 3 else "deny",
                    "r.ok" if i % 3 else "r.no_delete",
                )
            )
        d = dec("read")
        sink.record_decision(d)
        sink.record_outcome(d, "failed", "boom")
        sink.record_event("approval.granted", {"request_id": "q1"})
    return path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", *args])
    return result.exit_code, result.output


def test_verify_ok_and_named_failure(log_path: Path) -> None:
    code, out = run("verify", "--db", str(log_path))
    assert code == 0 and "OK 15 records" in out and "warning" not in out, out
    c = sqlite3.connect(log_path)
    c.execute("DROP TRIGGER audit_records_no_update")
    c.execute("UPDATE audit_records SET body = replace(body, 'delete', 'read') WHERE seq = 4")
    c.commit()
    c.close()
    code, out = run("verify", "--db", str(log_path))
    assert code == 1 and "FAILED at record 4" in out and "modified" in out, out
    code, out = run("verify", "--db", str(log_path), "--json")
    assert code == 1 and json.loads(out)["first_bad_seq"] == 4


def test_verify_with_exported_anchor_catches_truncation(log_path: Path, tmp_path: Path) -> None:
    anchor = tmp_path / "anchor.jsonl"
    code, _ = run("export", "--db", str(log_path), "--checkpoints-only", "-o", str(anchor))
    assert code == 0 and anchor.read_text().count('"checkpoint"') >= 3
    c = sqlite3.connect(log_path)
    for t in ("audit_records_no_delete", "audit_checkpoints_no_delete"):
        c.execute(f"DROP TRIGGER {t}")
    c.execute("DELETE FROM audit_records WHERE seq > 7")
    c.execute("DELETE FROM audit_checkpoints WHERE seq > 7")
    c.commit()
    c.close()
    code, out = run("verify", "--db", str(log_path), "--anchor", str(anchor))
    assert code == 1 and "FAILED at record 8" in out and "truncated" in out, out


def test_verify_rejects_a_key_it_does_not_trust(log_path: Path, tmp_path: Path) -> None:
    other = Signer.generate()
    pem = tmp_path / "other.pub"
    pem.write_text(other.public_pem())
    code, out = run("verify", "--db", str(log_path), "--public-key", str(pem))
    assert code == 1 and "untrusted key" in out


def test_export_jsonl_and_csv(log_path: Path, tmp_path: Path) -> None:
    code, out = run("export", "--db", str(log_path))
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and lines[0]["type"] == "log"
    assert sum(x["type"] == "record" for x in lines) == 15
    assert any(x["type"] == "checkpoint" for x in lines)
    f = tmp_path / "out.csv"
    code, _ = run("export", "--db", str(log_path), "--format", "csv", "-o", str(f))
    text = f.read_text()
    assert code == 0 and text.startswith("type,seq,ts,kind") and ",checkpoint," not in text[:30]
    assert text.count("\nrecord,") == 15 and "\ncheckpoint," in text
    code, _ = run("export", "--db", str(log_path), "--format", "xml")
    assert code != 0


def test_tail_and_filters(log_path: Path) -> None:
    code, out = run("tail", "--db", str(log_path), "-n", "3")
    assert code == 0 and len(out.strip().splitlines()) == 3
    assert "approval.granted" in out and "boom" in out
    code, out = run("tail", "--db", str(log_path), "--verdict", "deny", "-n", "100")
    assert code == 0 and len(out.strip().splitlines()) == 4
    assert all("delete" in line for line in out.strip().splitlines())
    code, out = run("tail", "--db", str(log_path), "--kind", "outcome", "--json")
    rec = json.loads(out)
    assert rec["record"]["data"]["outcome"] == "failed"


def test_tail_follow_prints_new_records(log_path: Path) -> None:
    sink = AuditLog(log_path, mode="strict")
    ready = threading.Event()

    def write() -> None:
        ready.wait()
        sink.record_decision(dec("brand_new_action"))

    t = threading.Thread(target=write)
    t.start()
    ready.set()
    # Written before or after tail starts, the record is printed exactly once.
    code, out = run(
        "tail",
        "--db",
        str(log_path),
        "-n",
        "1",
        "--follow",
        "--interval",
        "0.05",
        "--max-polls",
        "2000",
        "--max-records",
        "1",
        "--action",
        "brand_new_action",
    )
    t.join()
    sink.close()
    assert code == 0 and out.count("brand_new_action") == 1, out


def test_stats_counts(log_path: Path) -> None:
    code, out = run("stats", "--db", str(log_path), "--json")
    s = json.loads(out)
    assert code == 0
    assert s["verdicts"] == {"allow": 9, "deny": 4}
    assert s["actions"] == {"read": 9, "delete": 4}
    assert s["rules"] == {"r.ok": 9, "r.no_delete": 4}
    assert s["outcomes"] == {"failed": 1} and s["events"] == {"approval.granted": 1}
    code, out = run("stats", "--db", str(log_path))
    assert code == 0 and "Decisions by verdict" in out and "█" in out
    code, out = run(
        "stats", "--db", str(log_path), "--since", "2000-01-01", "--until", "2001-01-01"
    )
    assert code == 0 and out.startswith("0 decisions")
    code, out = run("stats", "--db", str(log_path), "--since", "1h", "--json")
    assert json.loads(out)["verdicts"] == {"allow": 9, "deny": 4}


def test_default_store_and_missing_store(kl_home: Path) -> None:
    code, out = run("verify")
    assert code == 2 and "no audit log" in out
    with AuditLog(kl_home / "audit.db") as sink:
        sink.record_decision(dec("read"))
    code, out = run("verify")
    assert code == 0 and "OK 1 records" in out and "warning" not in out


def test_cli_on_postgres_store(postgres_dsn: str, kl_home: Path) -> None:
    import uuid

    psycopg = pytest.importorskip("psycopg")
    from kitelogik.audit import PostgresAuditStore

    name = "kl_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_dsn, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    dsn = postgres_dsn.rsplit("/", 1)[0] + "/" + name
    # the default signing key location (KITELOGIK_HOME) is what verify trusts for --dsn
    with AuditLog(PostgresAuditStore(dsn), key_path=kl_home / "audit-signing.key") as sink:
        for i in range(4):
            sink.record_decision(dec("read" if i else "delete", "allow" if i else "deny"))
    code, out = run("verify", "--dsn", dsn)
    assert code == 0 and "OK 4 records" in out and "warning" not in out, out
    code, out = run("stats", "--dsn", dsn, "--json")
    assert json.loads(out)["verdicts"] == {"allow": 3, "deny": 1}
    code, out = run("tail", "--dsn", dsn, "-n", "1")
    assert code == 0 and "read" in out
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("SET session_replication_role = replica")
        c.execute("UPDATE audit_records SET action = 'read' WHERE seq = 1")
    code, out = run("verify", "--dsn", dsn)
    assert code == 1 and "FAILED at record 1" in out
