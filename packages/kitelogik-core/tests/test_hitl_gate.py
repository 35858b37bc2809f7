"""The approval queue as the gate's approver: a real gate, real Rego, a real SQLite queue; the
agent runs ``gate.run`` in a thread while a reviewer decides."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from kitelogik import GovernanceError, PolicyGate, SessionContext, ToolCall
from kitelogik.anchor.hitl import ApprovalQueue, SQLiteApprovalStore
from kitelogik.protocols import ApprovalResult

#: Approvals are audited to the default log by default: keep it out of the work tree.
pytestmark = pytest.mark.usefixtures("kl_home")

CTX = SessionContext(session_id="sess-g", agent_id="payer-agent", user_role="ops")


class RecordingAudit:
    """An audit sink with the gate's interface plus ``record_event`` (what the audit log adds)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.decisions: list[Any] = []

    def record_decision(self, decision: Any) -> None:
        self.decisions.append(decision)

    async def arecord_decision(self, decision: Any) -> None:
        self.decisions.append(decision)

    def record_outcome(self, decision: Any, outcome: str, error: str | None) -> None:
        pass

    async def arecord_outcome(self, decision: Any, outcome: str, error: str | None) -> None:
        pass

    def record_event(self, kind: str, data: dict[str, Any]) -> None:
        self.events.append((kind, data))

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events]


def pay_event(amount: float = 50, ctx: SessionContext = CTX) -> ToolCall:
    return ToolCall(
        action="wire_money",
        args={"to": "acct-9", "amount": amount},
        tool={"risk_tier": "transactional_high"},
        context=ctx,
    )


@pytest.fixture
def audit() -> RecordingAudit:
    return RecordingAudit()


@pytest.fixture
def queue(tmp_path: Path, audit: RecordingAudit) -> ApprovalQueue:
    return ApprovalQueue(SQLiteApprovalStore(tmp_path / "approvals.db"), audit=audit)


@pytest.fixture
def gate(queue: ApprovalQueue, audit: RecordingAudit) -> PolicyGate:
    return PolicyGate(audit=audit, approver=queue, approval_timeout=60)


def wait_pending(queue: ApprovalQueue, count: int = 1, limit: float = 30.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        found = queue.list()
        if len(found) >= count:
            return found
        time.sleep(0.02)
    raise AssertionError("no pending approval request appeared")


class Agent(threading.Thread):
    """Runs one governed call through ``gate.run`` and keeps what happened."""

    def __init__(self, gate: PolicyGate, event: ToolCall) -> None:
        super().__init__(daemon=True)
        self.gate, self.event = gate, event
        self.ran_with: dict[str, Any] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        def wire_money(**kwargs: Any) -> str:
            self.ran_with = kwargs
            return "sent"

        try:
            self.gate.run(self.event, wire_money)
        except BaseException as exc:
            self.error = exc

    def finish(self) -> Agent:
        self.join(60)
        assert not self.is_alive()
        return self


def test_approved_call_runs_with_exactly_the_approved_arguments(gate, queue, audit):
    agent = Agent(gate, pay_event(75))
    agent.start()
    (req,) = wait_pending(queue)
    assert req.args == {"to": "acct-9", "amount": 75}
    queue.approve(req.id, "alice", "expected payment", digest=req.digest)
    agent.finish()
    assert agent.error is None
    assert agent.ran_with == {"to": "acct-9", "amount": 75}
    assert queue.get(req.id).consumed_at is not None
    # The agent may consume before the reviewer's thread has audited its vote.
    assert sorted(audit.kinds()) == ["approval.granted", "approval.requested", "approval.used"]
    final = audit.decisions[-1] if audit.decisions else None
    assert final is not None


def test_denied_call_does_not_run(gate, queue, audit):
    agent = Agent(gate, pay_event())
    agent.start()
    (req,) = wait_pending(queue)
    queue.deny(req.id, "bob", "unknown payee")
    agent.finish()
    assert agent.ran_with is None
    assert isinstance(agent.error, GovernanceError)
    assert agent.error.decision.verdict == "deny"
    assert "unknown payee" in agent.error.decision.reason
    assert agent.error.decision.approval["status"] == "denied"
    assert audit.kinds() == ["approval.requested", "approval.denied"]


def test_no_answer_in_time_is_a_deny_and_the_request_expires(queue, audit):
    gate = PolicyGate(audit=audit, approver=queue, approval_timeout=0.3)
    agent = Agent(gate, pay_event())
    agent.start()
    agent.finish()
    assert agent.ran_with is None
    assert isinstance(agent.error, GovernanceError)
    assert "expired" in agent.error.decision.reason
    assert [r.status for r in queue.list(status=None)] == ["expired"]
    assert "approval.expired" in audit.kinds()


def test_an_approval_for_different_arguments_opens_nothing(gate, queue):
    """Two agents ask: 5 and 5000. Approving the small one must not let the big one run."""
    small, big = Agent(gate, pay_event(5)), Agent(gate, pay_event(5000))
    small.start()
    (req_small,) = wait_pending(queue)
    big.start()
    pending = wait_pending(queue, 2)
    req_big = next(r for r in pending if r.id != req_small.id)
    # The reviewer approves the small one, then tries to push the same digest onto the big one.
    queue.approve(req_small.id, "alice", "small is fine", digest=req_small.digest)
    with pytest.raises(Exception, match="digest"):
        queue.approve(req_big.id, "alice", "same thing", digest=req_small.digest)
    queue.deny(req_big.id, "alice", "too big")
    small.finish()
    big.finish()
    assert small.ran_with == {"to": "acct-9", "amount": 5}
    assert big.ran_with is None
    assert isinstance(big.error, GovernanceError)


class ReplayingApprover:
    """An attacker's approver: asks the real queue once, then replays that approval, either by
    handing the gate the old result (``mode="result"``) or by consuming the old request again
    for the new decision (``mode="consume"``)."""

    def __init__(self, queue: ApprovalQueue) -> None:
        self.queue = queue
        self.saved: ApprovalResult | None = None
        self.mode = "result"

    def wait_for_approval(self, decision, event, timeout) -> ApprovalResult:
        if self.saved is None:
            self.saved = self.queue.wait_for_approval(decision, event, timeout)
            return self.saved
        if self.mode == "result":
            return self.saved
        return self.queue.consume(self.saved.request_id or "", decision)

    async def await_approval(self, decision, event, timeout) -> ApprovalResult:
        return self.wait_for_approval(decision, event, timeout)


@pytest.mark.parametrize(
    ("mode", "why"),
    [("result", "not bound to this exact call"), ("consume", "already used")],
)
def test_a_replayed_approval_is_refused(queue, audit, mode, why):
    replayer = ReplayingApprover(queue)
    gate = PolicyGate(audit=audit, approver=replayer, approval_timeout=60)
    first = Agent(gate, pay_event(5))
    first.start()
    (req,) = wait_pending(queue)
    queue.approve(req.id, "alice", "ok")
    first.finish()
    assert first.ran_with == {"to": "acct-9", "amount": 5}
    replayer.mode = mode
    # Same arguments and session (a new call), or other arguments: the old approval is useless.
    for amount in (5, 5000):
        again = Agent(gate, pay_event(amount))
        again.start()
        again.finish()
        assert again.ran_with is None
        assert isinstance(again.error, GovernanceError)
        assert why in again.error.decision.reason
    if mode == "consume":
        assert "approval.refused" in audit.kinds()


def test_self_approval_through_the_queue_is_refused(gate, queue):
    agent = Agent(gate, pay_event())
    agent.start()
    (req,) = wait_pending(queue)
    with pytest.raises(PermissionError):
        queue.approve(req.id, "payer-agent", "I approve myself")
    queue.deny(req.id, "bob", "cleanup")
    agent.finish()
    assert agent.ran_with is None


def test_queue_store_down_is_a_deny(tmp_path, audit):
    db = tmp_path / "approvals.db"
    queue = ApprovalQueue(SQLiteApprovalStore(db), audit=audit)
    gate = PolicyGate(audit=audit, approver=queue, approval_timeout=30)
    # The store's file is replaced by garbage: every store operation fails.
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    agent = Agent(gate, pay_event())
    agent.start()
    agent.finish()
    assert agent.ran_with is None
    assert isinstance(agent.error, GovernanceError)
    assert "approval failed" in agent.error.decision.reason


def test_postgres_store_unreachable_is_a_deny(postgres_dsn, audit):
    from kitelogik.anchor.hitl.postgres import PostgresApprovalStore
    from kitelogik.testing.services import free_port

    queue = ApprovalQueue(PostgresApprovalStore(postgres_dsn), audit=audit)
    # Point the same store at a port where no server listens (the database went away).
    queue.store.dsn = f"postgresql://kl@127.0.0.1:{free_port()}/postgres"  # type: ignore[attr-defined]
    gate = PolicyGate(audit=audit, approver=queue, approval_timeout=30)
    agent = Agent(gate, pay_event())
    agent.start()
    agent.finish()
    assert agent.ran_with is None
    assert isinstance(agent.error, GovernanceError)
    assert "approval failed" in agent.error.decision.reason


def test_audit_failure_on_request_is_a_deny(tmp_path):
    class BrokenAudit(RecordingAudit):
        def record_event(self, kind: str, data: dict[str, Any]) -> None:
            raise OSError("audit disk full")

    broken = BrokenAudit()
    queue = ApprovalQueue(SQLiteApprovalStore(tmp_path / "a.db"), audit=broken)
    gate = PolicyGate(audit=None, approver=queue, approval_timeout=30)
    agent = Agent(gate, pay_event())
    agent.start()
    agent.finish()
    assert isinstance(agent.error, GovernanceError)
    assert "audit disk full" in agent.error.decision.reason


async def test_async_gate_waits_and_runs_after_approval(gate, queue):
    ran: list[dict[str, Any]] = []

    async def wire_money(**kwargs: Any) -> str:
        ran.append(kwargs)
        return "sent"

    async def reviewer() -> None:
        while not queue.list():
            await asyncio.sleep(0.02)
        (req,) = queue.list()
        await queue.aapprove(req.id, "alice", "ok", digest=req.digest)

    task = asyncio.create_task(reviewer())
    result = await gate.arun(pay_event(12), wire_money)
    await task
    assert result == "sent"
    assert ran == [{"to": "acct-9", "amount": 12}]


async def test_async_cancelled_wait_withdraws_the_request(gate, queue):
    async def wire_money(**kwargs: Any) -> str:
        return "sent"

    task = asyncio.create_task(gate.arun(pay_event(), wire_money))
    while not queue.list():
        await asyncio.sleep(0.02)
    (req,) = queue.list()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert queue.get(req.id).status == "expired"
    with pytest.raises(Exception, match="expired"):
        queue.approve(req.id, "alice", "too late")


def test_approvals_go_into_the_real_audit_log(tmp_path):
    from kitelogik.audit import AuditLog, verify

    log = AuditLog(tmp_path / "audit.db", mode="strict")
    queue = ApprovalQueue(SQLiteApprovalStore(tmp_path / "approvals.db"), audit=log)
    gate = PolicyGate(audit=log, approver=queue, approval_timeout=60)
    approved = Agent(gate, pay_event(7))
    approved.start()
    (req,) = wait_pending(queue)
    queue.approve(req.id, "alice", "fine")
    approved.finish()
    denied = Agent(gate, pay_event(8))
    denied.start()
    (req2,) = wait_pending(queue)
    queue.deny(req2.id, "bob", "no")
    denied.finish()
    expiring = Agent(PolicyGate(audit=log, approver=queue, approval_timeout=0.2), pay_event(9))
    expiring.start()
    expiring.finish()
    log.flush()
    rows = list(log.store.rows())
    kinds = [r.kind for r in rows]
    for kind in (
        "approval.requested",
        "approval.granted",
        "approval.used",
        "approval.denied",
        "approval.expired",
    ):
        assert kind in kinds, kinds
    granted = next(r for r in rows if r.kind == "approval.granted")
    assert "alice" in granted.body
    assert req.digest in granted.body
    # The approval records are part of the same tamper-evident chain.
    assert verify(log.store).ok
    log.close()
