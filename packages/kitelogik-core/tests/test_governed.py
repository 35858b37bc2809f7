"""``@governed`` and ``GovernedToolbox``: denied calls never run, allowed calls run with exactly
the decided arguments, escalations need a bound approval."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from kitelogik import (
    GovernanceError,
    GovernedToolbox,
    PolicyGate,
    SessionContext,
    ToolCall,
    governed,
    session,
)
from kitelogik.decision import Decision
from kitelogik.protocols import ApprovalResult

POLICY = """package kitelogik.main
import rego.v1

base := {"allow": false, "deny": false, "requires_hitl": false, "reasons": [],
         "risk_tier": "informational", "rules": [], "obligations": {}}

default decision := {"allow": false, "deny": false, "requires_hitl": false,
                     "reasons": ["unknown tool"], "risk_tier": "informational",
                     "rules": ["t.unknown"], "obligations": {}}

decision := object.union(base, {"allow": true, "rules": ["t.lookup"]}) if {
    input.action == "lookup"
}

decision := object.union(base, {"allow": true, "rules": ["t.refund_small"]}) if {
    input.action == "refund"
    is_number(input.args.amount)
    input.args.amount <= 100
    "payments" in input.context.session_scopes
}

decision := object.union(base, {"deny": true, "reasons": ["refund over 100"],
                                 "rules": ["t.refund_big"]}) if {
    input.action == "refund"
    not small
}

small if {
    is_number(input.args.amount)
    input.args.amount <= 100
    "payments" in input.context.session_scopes
}

decision := object.union(base, {"requires_hitl": true, "allow": true,
                                 "reasons": ["wire needs a human"], "rules": ["t.wire"]}) if {
    input.action == "wire"
}
"""

CTX = SessionContext(session_id="s1", session_scopes=["payments"])


@pytest.fixture
def gate(tmp_path: Path) -> PolicyGate:
    d = tmp_path / "p" / "kitelogik"
    d.mkdir(parents=True)
    (d / "main.rego").write_text(POLICY)
    return PolicyGate(policy_dir=tmp_path / "p", audit=None)


class RecordingApprover:
    """A human stand-in that answers with the binding of the exact decision it is shown (or a
    chosen digest, to simulate an approval made for a different call)."""

    def __init__(self, approve: bool, digest: str | None = None) -> None:
        self.approve, self.digest = approve, digest
        self.seen: list[Decision] = []

    def wait_for_approval(self, decision: Decision, event: Any, timeout: float) -> ApprovalResult:
        self.seen.append(decision)
        return ApprovalResult(
            self.approve,
            "ok" if self.approve else "no",
            ("alice",),
            "req-1",
            self.digest or decision.binding_digest,
            "approved" if self.approve else "denied",
        )

    async def await_approval(self, decision: Decision, event: Any, timeout: float):
        return self.wait_for_approval(decision, event, timeout)


def test_allowed_call_runs_and_denied_call_never_runs(gate: PolicyGate) -> None:
    ran: list[float] = []

    @governed(gate=gate, context=CTX)
    def refund(customer: str, amount: float = 10) -> str:
        ran.append(amount)
        return f"refunded {amount} to {customer}"

    assert refund("c1", amount=50) == "refunded 50 to c1"
    with pytest.raises(GovernanceError) as info:
        refund("c1", amount=5000)
    assert info.value.decision.verdict == "deny"
    assert "refund over 100" in str(info.value)
    assert ran == [50]


def test_defaults_are_part_of_the_decided_arguments(gate: PolicyGate) -> None:
    @governed(gate=gate, context=CTX)
    def refund(customer: str, amount: float = 500) -> float:
        return amount

    with pytest.raises(GovernanceError):
        refund("c1")  # the default of 500 is decided on, not skipped


def test_type_confusion_does_not_slip_through(gate: PolicyGate) -> None:
    @governed(gate=gate, context=CTX)
    def refund(customer: str, amount: Any) -> Any:
        return amount

    for sneaky in ("50", None, True, [50]):
        with pytest.raises(GovernanceError):
            refund("c1", amount=sneaky)


def test_async_functions_are_governed(gate: PolicyGate) -> None:
    ran: list[Any] = []

    @governed(gate=gate, context=CTX)
    async def refund(customer: str, amount: float) -> float:
        ran.append(amount)
        return amount

    assert asyncio.run(refund("c", 20)) == 20
    with pytest.raises(GovernanceError):
        asyncio.run(refund("c", 2000))
    assert ran == [20]


def test_function_receives_exactly_the_decided_arguments_even_if_caller_mutates(
    gate: PolicyGate,
) -> None:
    payload = {"amount": 50}
    seen: list[Any] = []
    gate_reached = threading.Event()
    proceed = threading.Event()

    class SlowApprover(RecordingApprover):
        def wait_for_approval(self, decision, event, timeout):
            gate_reached.set()
            proceed.wait(5)
            return super().wait_for_approval(decision, event, timeout)

    g = PolicyGate(engine=gate.engine, audit=None, approver=SlowApprover(True))

    def wire(details: dict) -> None:
        seen.append(details)

    t = threading.Thread(
        target=lambda: g.run(ToolCall(action="wire", args={"details": payload}, context=CTX), wire)
    )
    t.start()
    gate_reached.wait(5)
    payload["amount"] = 1_000_000  # changed while the human looks at the request
    proceed.set()
    t.join(5)
    assert seen == [{"amount": 50}]


def test_escalation_without_an_approver_is_a_deny(gate: PolicyGate) -> None:
    @governed(gate=gate, context=CTX)
    def wire(to: str) -> None:
        raise AssertionError("must not run")

    with pytest.raises(GovernanceError) as info:
        wire("acct")
    assert "no approver" in str(info.value)
    assert gate.check(ToolCall(action="wire", args={"to": "x"}, context=CTX)).verdict == "escalate"


def test_escalation_runs_after_a_bound_approval(gate: PolicyGate) -> None:
    approver = RecordingApprover(True)
    g = PolicyGate(engine=gate.engine, audit=None, approver=approver)
    ran: list[str] = []

    @governed(gate=g, context=CTX)
    def wire(to: str) -> str:
        ran.append(to)
        return "sent"

    assert wire("acct-1") == "sent"
    assert ran == ["acct-1"] and len(approver.seen) == 1


def test_refused_approval_and_approval_for_another_call_are_denies(gate: PolicyGate) -> None:
    for approver in (RecordingApprover(False), RecordingApprover(True, digest="0" * 64)):
        g = PolicyGate(engine=gate.engine, audit=None, approver=approver)

        @governed(gate=g, context=CTX)
        def wire(to: str) -> None:
            raise AssertionError("must not run")

        with pytest.raises(GovernanceError) as info:
            wire("acct-1")
        assert info.value.decision.verdict == "deny"


def test_session_context_manager_supplies_the_context(gate: PolicyGate) -> None:
    @governed(gate=gate)
    def refund(amount: float) -> float:
        return amount

    with pytest.raises(GovernanceError):
        refund(10)  # no session: no scopes
    with session(CTX):
        assert refund(10) == 10


def test_positional_only_varargs_and_kwargs_round_trip(gate: PolicyGate) -> None:
    @governed(gate=gate, context=CTX, action="lookup")
    def f(a, /, b, *rest, c=3, **extra):
        return (a, b, rest, c, extra)

    assert f(1, 2, 7, 8, c=4, z=9) == (1, 2, (7, 8), 4, {"z": 9})


def test_nested_governed_call_is_decided_once(gate: PolicyGate) -> None:
    decisions: list[str] = []

    class CountingAudit:
        def record_decision(self, d):
            decisions.append(d.action)

        async def arecord_decision(self, d):
            decisions.append(d.action)

        def record_outcome(self, *a):
            pass

        async def arecord_outcome(self, *a):
            pass

    g = PolicyGate(engine=gate.engine, audit=CountingAudit())

    @governed(gate=g, context=CTX)
    def lookup(customer: str) -> str:
        return customer

    # A plugin-style outer enforcement point running the same call:
    result = g.run(
        ToolCall(action="lookup", args={"customer": "c1"}, context=CTX),
        lambda customer: lookup(customer),
    )
    assert result == "c1" and decisions == ["lookup"]
    # A different call inside is decided on its own.
    g.run(
        ToolCall(action="lookup", args={"customer": "c1"}, context=CTX),
        lambda customer: lookup("c2"),
    )
    assert decisions == ["lookup", "lookup", "lookup"]


def test_toolbox_batch_decides_each_call(gate: PolicyGate) -> None:
    box = GovernedToolbox(gate, context=CTX)
    calls: list[Any] = []

    @box.tool
    def lookup(customer: str) -> dict:
        calls.append(customer)
        return {"id": customer}

    @box.tool
    def refund(customer: str, amount: float) -> str:
        calls.append(amount)
        return "ok"

    def broken() -> None:
        raise ValueError("db down")

    box.register(broken, name="lookup_broken")
    assert [t["name"] for t in box.tools()] == ["lookup", "refund", "lookup_broken"]
    results = box.execute_batch(
        [
            ("lookup", {"customer": "c1"}),
            {"name": "refund", "args": {"customer": "c1", "amount": 5000}},
            ("refund", {"customer": "c1", "amount": 5}),
            ("nope", {}),
        ]
    )
    assert [r.ok for r in results] == [True, False, True, False]
    assert results[0].value == {"id": "c1"}
    assert results[1].decision.verdict == "deny" and "refund over 100" in results[1].error
    assert results[3].decision.verdict == "deny"
    assert calls == ["c1", 5]


def test_toolbox_refuses_duplicate_names_and_reports_tool_errors(gate: PolicyGate) -> None:
    box = GovernedToolbox(gate, context=CTX)

    def lookup() -> None:
        raise ValueError("db down")

    box.register(lookup)
    with pytest.raises(ValueError, match="already registered"):
        box.register(lookup)
    r = box.execute("lookup")
    assert not r.ok and r.decision.allowed and "db down" in (r.error or "")


def test_toolbox_async(gate: PolicyGate) -> None:
    box = GovernedToolbox(gate, context=CTX)

    @box.tool
    async def lookup(customer: str) -> str:
        await asyncio.sleep(0)
        return customer

    async def main():
        return await box.aexecute_batch(
            [("lookup", {"customer": "a"}), ("refund", {"customer": "a", "amount": 1e9})]
        )

    r = asyncio.run(main())
    assert r[0].ok and r[0].value == "a" and not r[1].ok
    with pytest.raises(TypeError, match="aexecute"):
        box.execute("lookup", {"customer": "a"})


def test_an_escalation_that_ends_in_a_deny_is_audited_as_skipped(gate: PolicyGate) -> None:
    records: list[tuple[str, str, Any]] = []

    class Audit:
        def record_decision(self, d):
            records.append(("decision", d.verdict, None))

        async def arecord_decision(self, d):
            self.record_decision(d)

        def record_outcome(self, d, outcome, error):
            records.append(("outcome", outcome, error))

        async def arecord_outcome(self, d, outcome, error):
            self.record_outcome(d, outcome, error)

    for approver, why in ((None, "no approver"), (RecordingApprover(False), "not granted")):
        records.clear()
        g = PolicyGate(engine=gate.engine, audit=Audit(), approver=approver)
        d = g.authorize(ToolCall(action="wire", args={"to": "x"}, context=CTX))
        assert d.verdict == "deny"
        assert records[0] == ("decision", "escalate", None)
        assert records[1][:2] == ("outcome", "skipped") and why in records[1][2]
