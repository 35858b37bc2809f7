"""kitelogik.adapters.OpenCall / begin_allowed / running_decision: an allowed call opened in a
framework's before-hook and finished in its after-hook (the framework runs the tool between)."""

from __future__ import annotations

import contextvars
import threading

import pytest
from kitelogik import adapters
from kitelogik.decision import GovernanceError
from kitelogik.events import SessionContext, ToolCall
from kitelogik.gate import PolicyGate
from kitelogik.governed import governed
from kitelogik.testing.fakes import RecordingAudit, kit_engine

CTX = SessionContext(session_id="open-call", session_scopes=("kit",))


def gate_and_audit() -> tuple[PolicyGate, RecordingAudit]:
    audit = RecordingAudit()
    return PolicyGate(kit_engine(), audit=audit), audit


def test_nested_enforcement_inside_an_open_call_reuses_the_decision() -> None:
    gate, audit = gate_and_audit()
    ran: list[str] = []

    @governed(gate=gate, action="lookup")
    def lookup(key: str) -> str:
        ran.append(key)
        return key

    decision = gate.authorize(ToolCall(action="lookup", args={"key": "a"}, context=CTX))
    call = adapters.begin_allowed(gate, decision)
    assert adapters.running_decision() is decision
    assert lookup(key="a") == "a"  # the framework runs the tool between the hooks
    call.finish("ran")
    assert adapters.running_decision() is None
    assert ran == ["a"]
    assert [d.id for d in audit.decisions] == [decision.id]
    assert [(o.decision.id, o.outcome) for o in audit.outcomes] == [(decision.id, "ran")]


def test_a_different_call_inside_an_open_call_is_decided_on_its_own() -> None:
    gate, audit = gate_and_audit()
    decision = gate.authorize(ToolCall(action="lookup", args={"key": "a"}, context=CTX))
    call = adapters.begin_allowed(gate, decision)
    other = gate.authorize(ToolCall(action="lookup", args={"key": "secret"}, context=CTX))
    call.finish()
    assert other.verdict == "deny"
    assert len(audit.decisions) == 2


def test_finish_is_audited_once() -> None:
    gate, audit = gate_and_audit()
    decision = gate.authorize(ToolCall(action="lookup", args={"key": "a"}, context=CTX))
    call = adapters.begin_allowed(gate, decision)
    call.finish("failed", "boom")
    call.finish("ran")
    assert [(o.outcome, o.error) for o in audit.outcomes] == [("failed", "boom")]


def test_a_denied_decision_cannot_be_opened() -> None:
    gate, _ = gate_and_audit()
    denied = gate.authorize(ToolCall(action="delete_record", args={"record_id": "r"}, context=CTX))
    with pytest.raises(GovernanceError):
        adapters.begin_allowed(gate, denied)
    assert adapters.running_decision() is None


def test_finish_from_another_context_leaves_that_context_alone() -> None:
    gate, audit = gate_and_audit()
    decision = gate.authorize(ToolCall(action="lookup", args={"key": "a"}, context=CTX))
    opened: list[adapters.OpenCall] = []
    ctx = contextvars.copy_context()
    ctx.run(lambda: opened.append(adapters.begin_allowed(gate, decision)))
    t = threading.Thread(target=opened[0].finish)
    t.start()
    t.join()
    assert [o.outcome for o in audit.outcomes] == ["ran"]
    assert adapters.running_decision() is None
