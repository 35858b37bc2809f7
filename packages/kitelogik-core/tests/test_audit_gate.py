"""The gate and its audit log: on by default, a record before the action and an outcome after,
redaction before anything touches disk, and fail closed when the store fails."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from kitelogik import GovernanceError, PolicyGate, SessionContext, ToolCall
from kitelogik.audit import (
    AuditLog,
    AuditUnavailable,
    Redactor,
    Signer,
    SQLiteAuditStore,
    default_audit_sink,
    verify,
)
from kitelogik.engines.rego import RegoEngine
from kitelogik.jcs import canonical_json
from kitelogik.protocols import VerifiedCredential

POLICY = """
package kitelogik.main

import rego.v1

decision := {
    "allow": input.action != "forbidden",
    "deny": input.action == "forbidden",
    "requires_hitl": false,
    "reasons": reasons,
    "risk_tier": "low",
    "rules": ["test.audit"],
    "obligations": {},
}

reasons := ["forbidden action"] if input.action == "forbidden"
reasons := [] if input.action != "forbidden"
"""


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("auditpolicy")
    (d / "main.rego").write_text(POLICY)
    return d


@pytest.fixture
def engine(policy_dir: Path) -> RegoEngine:
    return RegoEngine(policy_dir)


CTX = SessionContext(
    session_id="s-audit", agent_id="agent-7", user_role="support", session_scopes=["x"]
)


def call(action: str = "lookup", **args: Any) -> ToolCall:
    return ToolCall(action=action, args=args or {"q": 1}, context=CTX)


def bodies(path: Path) -> list[dict[str, Any]]:
    c = sqlite3.connect(path)
    try:
        return [json.loads(b) for (b,) in c.execute("SELECT body FROM audit_records ORDER BY seq")]
    finally:
        c.close()


def test_default_sink_writes_under_kitelogik_home(kl_home: Path, engine: RegoEngine) -> None:
    gate = PolicyGate(engine)
    assert isinstance(gate.audit, AuditLog)
    assert gate.audit is default_audit_sink()  # one writer per file, shared by every gate
    d = gate.check(call())
    assert d.verdict == "allow"
    gate.audit.flush()
    recs = bodies(kl_home / "audit.db")
    assert [r["data"]["decision_id"] for r in recs] == [d.id]
    assert (kl_home / "audit-signing.key").stat().st_mode & 0o777 == 0o600


def test_default_sink_is_under_cwd_without_kitelogik_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: RegoEngine
) -> None:
    monkeypatch.delenv("KITELOGIK_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    gate = PolicyGate(engine)
    gate.check(call())
    gate.audit.flush()  # type: ignore[union-attr]
    assert len(bodies(tmp_path / ".kitelogik" / "audit.db")) == 1


def test_audit_none_disables_it_explicitly(kl_home: Path, engine: RegoEngine) -> None:
    gate = PolicyGate(engine, audit=None)
    assert gate.check(call()).verdict == "allow"
    assert not (kl_home / "audit.db").exists()


def test_decision_and_outcome_records_hold_every_field(tmp_path: Path, engine: RegoEngine) -> None:
    class Verifier:  # a real verifier of this test's own trivial tokens
        def verify_for(self, token: str | None, session_id: str) -> VerifiedCredential:
            return VerifiedCredential(
                token_id="tok-42",
                session_id=session_id,
                scopes=("x",),
                expires_at=2**40,
                agent_id="agent-7",
            )

        async def averify_for(self, token: str | None, session_id: str) -> VerifiedCredential:
            return self.verify_for(token, session_id)

    with AuditLog(tmp_path / "a.db", mode="strict") as sink:
        gate = PolicyGate(engine, audit=sink, credentials=Verifier())
        out = gate.run(
            call(
                "lookup",
                customer="c1",
                api_key="sk-live-123",
                nested={"db_password": "hunter2", "keep": 1},
            ),
            lambda **kw: "done",
        )
        assert out == "done"
        with pytest.raises(GovernanceError):
            gate.run(call("forbidden"), lambda **kw: None)

        def boom(**kw: Any) -> None:
            raise ValueError("tool broke")

        with pytest.raises(ValueError, match="tool broke"):
            gate.run(call("lookup", n=2), boom)
    recs = bodies(tmp_path / "a.db")
    kinds = [(r["kind"], r["data"].get("verdict"), r["data"].get("outcome")) for r in recs]
    assert kinds == [
        ("decision", "allow", None),
        ("outcome", "allow", "ran"),
        ("decision", "deny", None),
        ("decision", "allow", None),
        ("outcome", "allow", "failed"),
    ]
    d = recs[0]["data"]
    assert d["args"] == {
        "customer": "c1",
        "api_key": "[REDACTED]",
        "nested": {"db_password": "[REDACTED]", "keep": 1},
    }
    assert d["action"] == "lookup" and d["event_type"] == "tool_call"
    assert d["rules"] == ["test.audit"] and d["risk_tier"] == "low" and d["engine"] == "rego"
    assert d["policy_version"] == engine.policy_version and d["policy_version"]
    assert d["session_id"] == "s-audit" and d["agent_id"] == "agent-7"
    assert d["token_id"] == "tok-42" and d["latency_us"] > 0
    assert recs[1]["data"]["decision_id"] == d["decision_id"]
    assert recs[2]["data"]["reasons"] == ["forbidden action"]
    assert recs[4]["data"]["error"] == "ValueError: tool broke"
    # The secrets never reached the disk, in the database or its WAL.
    for f in tmp_path.iterdir():
        raw = f.read_bytes()
        assert b"sk-live-123" not in raw and b"hunter2" not in raw, f
    assert verify(SQLiteAuditStore(tmp_path / "a.db")).ok


def test_record_body_is_rfc8785_canonical(tmp_path: Path, engine: RegoEngine) -> None:
    with AuditLog(tmp_path / "a.db") as sink:
        PolicyGate(engine, audit=sink).check(
            call(
                "lookup",
                f=0.1,
                big=1e300,
                tiny=1e-9,
                neg=-0.0,
                u="é\u2028\U0001f600",
                **{"\U0001f600": 1, "\ufb33": 2},
            )
        )
    c = sqlite3.connect(tmp_path / "a.db")
    (body,) = c.execute("SELECT body FROM audit_records").fetchone()
    c.close()
    assert body == canonical_json(json.loads(body))


def test_custom_redaction(tmp_path: Path, engine: RegoEngine) -> None:
    with AuditLog(tmp_path / "a.db", redactor=Redactor(extra_keys=["customer"])) as sink:
        PolicyGate(engine, audit=sink).check(call("lookup", customer="c1", max_tokens=5))
    d = bodies(tmp_path / "a.db")[0]["data"]
    assert d["args"] == {"customer": "[REDACTED]", "max_tokens": 5}


def test_record_event_is_chained_and_redacted(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "a.db") as sink:
        data = {"request_id": "r1", "approver": "alice", "token": "t0ps3cret"}
        sink.record_event("approval.granted", data)
        data["approver"] = "mallory"  # mutating after the call changes nothing
        with pytest.raises(ValueError, match="reserved"):
            sink.record_event("decision", {})
    recs = bodies(tmp_path / "a.db")
    assert recs[0]["kind"] == "approval.granted"
    assert recs[0]["data"] == {"request_id": "r1", "approver": "alice", "token": "[REDACTED]"}
    assert verify(SQLiteAuditStore(tmp_path / "a.db")).ok


async def test_async_gate_writes_strict_records(tmp_path: Path, engine: RegoEngine) -> None:
    with AuditLog(tmp_path / "a.db", mode="strict") as sink:
        gate = PolicyGate(engine, audit=sink)

        async def tool(**kw: Any) -> str:
            return "ok"

        assert await gate.arun(call(), tool) == "ok"
        # strict: durable when arun returns, before close
        assert [r["kind"] for r in bodies(tmp_path / "a.db")] == ["decision", "outcome"]
        await sink.arecord_event("note", {"k": 1})
        assert len(bodies(tmp_path / "a.db")) == 3


def _lock(path: Path) -> sqlite3.Connection:
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("BEGIN EXCLUSIVE")
    return c


def test_strict_store_failure_denies_with_audit_unavailable(
    tmp_path: Path, engine: RegoEngine
) -> None:
    store = SQLiteAuditStore(tmp_path / "a.db", busy_timeout=0.05)
    with AuditLog(store, mode="strict", signer=Signer.generate()) as sink:
        gate = PolicyGate(engine, audit=sink)
        blocker = _lock(tmp_path / "a.db")
        ran = []
        with pytest.raises(GovernanceError) as info:
            gate.run(call(), lambda **kw: ran.append(1))
        d = info.value.decision
        assert d.verdict == "deny" and ran == []
        assert d.reasons[0].startswith("audit unavailable:")
        assert "kitelogik.audit" in d.rules
        blocker.execute("ROLLBACK")
        blocker.close()
        _wait_recovered(sink)
        assert gate.check(call()).verdict == "allow"
    recs = bodies(tmp_path / "a.db")
    assert len(recs) == 1  # the refused decision left no claim of an allow behind
    assert verify(SQLiteAuditStore(tmp_path / "a.db")).ok


def _wait_recovered(sink: AuditLog) -> None:
    import time

    for _ in range(1000):
        if sink._error is None:
            return
        time.sleep(0.01)
    raise AssertionError("audit store did not recover")


def test_batched_store_failure_denies_later_decisions_and_keeps_queued_ones(
    tmp_path: Path, engine: RegoEngine
) -> None:
    store = SQLiteAuditStore(tmp_path / "a.db", durable=False, busy_timeout=0.05)
    with AuditLog(store, mode="batched", signer=Signer.generate()) as sink:
        gate = PolicyGate(engine, audit=sink)
        blocker = _lock(tmp_path / "a.db")
        first = gate.check(call())  # acknowledged: queued before the failure is known
        assert first.verdict == "allow"
        denied = None
        for _ in range(2000):
            d = gate.check(call())
            if d.verdict == "deny":
                denied = d
                break
            import time

            time.sleep(0.005)
        assert denied is not None and denied.reasons[0].startswith("audit unavailable")
        blocker.execute("ROLLBACK")
        blocker.close()
        assert sink.flush(30)
        _wait_recovered(sink)
        assert gate.check(call()).verdict == "allow"
    ids = [r["data"]["decision_id"] for r in bodies(tmp_path / "a.db")]
    assert first.id in ids and denied.id not in ids
    assert verify(SQLiteAuditStore(tmp_path / "a.db")).ok


def test_degraded_mode_allows_and_logs_loudly(
    tmp_path: Path, engine: RegoEngine, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteAuditStore(tmp_path / "a.db", busy_timeout=0.05)
    sink = AuditLog(store, mode="strict", on_failure="degraded", signer=Signer.generate())
    gate = PolicyGate(engine, audit=sink)
    blocker = _lock(tmp_path / "a.db")
    with caplog.at_level(logging.ERROR, logger="kitelogik.audit"):
        assert gate.check(call()).verdict == "allow"
    assert any("AUDIT DEGRADED" in r.getMessage() for r in caplog.records)
    blocker.execute("ROLLBACK")
    blocker.close()
    sink.close()


def test_closed_sink_denies(tmp_path: Path, engine: RegoEngine) -> None:
    sink = AuditLog(tmp_path / "a.db")
    sink.close()
    with pytest.raises(AuditUnavailable):
        sink.record_decision(PolicyGate(engine, audit=None).check(call()))
    d = PolicyGate(engine, audit=sink).check(call())
    assert d.verdict == "deny" and "audit unavailable" in d.reasons[0]


def test_default_sink_does_not_block_exit_and_flushes(tmp_path: Path, policy_dir: Path) -> None:
    script = textwrap.dedent(f"""
        from kitelogik import PolicyGate, SessionContext, ToolCall
        from kitelogik.engines.rego import RegoEngine
        gate = PolicyGate(RegoEngine({str(policy_dir)!r}))
        ctx = SessionContext(session_id="s", user_role="r", session_scopes=[])
        for i in range(200):
            gate.check(ToolCall(action="lookup", args={{"i": i}}, context=ctx))
        print("done", flush=True)
    """)
    env = {
        "KITELOGIK_HOME": str(tmp_path / "h"),
        "PATH": "/usr/bin:/bin",
        "OTEL_SDK_DISABLED": "true",
    }
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "done" in proc.stdout
    assert len(bodies(tmp_path / "h" / "audit.db")) == 200  # flushed at exit
    r = verify(SQLiteAuditStore(tmp_path / "h" / "audit.db"))
    assert r.ok and r.last_signed_seq == 200  # a final checkpoint at close
