"""Real, in-memory implementations of the gate's collaborators for tests and examples.

They implement the protocols in :mod:`kitelogik.protocols` exactly as a production store does
(the gate cannot tell them apart); they only keep their state in memory so a test can inspect
it: :class:`RecordingAudit` (an :class:`~kitelogik.protocols.AuditSink`),
:class:`ScriptedApprover` (an :class:`~kitelogik.protocols.Approver` answering from a script),
:class:`SideEffectLog` (what tools really did) and :class:`FailingEngine` (a policy engine that
is down).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kitelogik.canonical import thaw
from kitelogik.decision import Decision
from kitelogik.engines.base import EngineError, EngineResult
from kitelogik.events import GovernanceEvent
from kitelogik.protocols import ApprovalResult, Outcome

__all__ = [
    "KIT_POLICY_DIR",
    "FailingEngine",
    "RecordingAudit",
    "ScriptedApprover",
    "SideEffectLog",
    "kit_engine",
]

#: The kit's own complete policy bundle (entry point ``kitelogik.main``); see its main.rego.
KIT_POLICY_DIR = Path(__file__).resolve().parent / "policy"

_ENGINE: list[Any] = []
_ENGINE_LOCK = threading.Lock()


def kit_engine() -> Any:
    """The embedded Rego engine on the kit policy, compiled once per process."""
    with _ENGINE_LOCK:
        if not _ENGINE:
            from kitelogik.engines.rego import RegoEngine

            engine = RegoEngine(KIT_POLICY_DIR, reload_interval=None)
            if engine.error:
                raise RuntimeError(f"the kit policy does not load: {engine.error}")
            _ENGINE.append(engine)
        return _ENGINE[0]


@dataclass(frozen=True)
class OutcomeRecord:
    decision: Decision
    outcome: Outcome
    error: str | None


class RecordingAudit:
    """An :class:`~kitelogik.protocols.AuditSink` that keeps every record in memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.decisions: list[Decision] = []
        self.outcomes: list[OutcomeRecord] = []

    def record_decision(self, decision: Decision) -> None:
        with self._lock:
            self.decisions.append(decision)

    async def arecord_decision(self, decision: Decision) -> None:
        self.record_decision(decision)

    def record_outcome(self, decision: Decision, outcome: Outcome, error: str | None) -> None:
        with self._lock:
            self.outcomes.append(OutcomeRecord(decision, outcome, error))

    async def arecord_outcome(
        self, decision: Decision, outcome: Outcome, error: str | None
    ) -> None:
        self.record_outcome(decision, outcome, error)

    def for_action(self, action: str) -> list[Decision]:
        return [d for d in self.decisions if d.action == action]

    def outcomes_of(self, decision_id: str) -> list[OutcomeRecord]:
        return [o for o in self.outcomes if o.decision.id == decision_id]


#: Answers a :class:`ScriptedApprover` can give.
ANSWERS = ("approve", "deny", "expire", "forge", "unbound")


class ScriptedApprover:
    """An :class:`~kitelogik.protocols.Approver` that answers from a script, in order.

    ``approve`` answers with the decision's binding digest (a valid approval); ``deny`` and
    ``expire`` refuse; ``forge`` approves with the digest of a different call and ``unbound``
    approves without any digest -- both must be refused by the enforcement point. Every request
    is kept in :attr:`requests` (the approval request document a human would be shown).
    """

    def __init__(self, answers: Iterable[str] = ("approve",), approver: str = "kit-reviewer"):
        self.script = list(answers)
        for a in self.script:
            if a not in ANSWERS:
                raise ValueError(f"unknown scripted answer {a!r}; expected one of {ANSWERS}")
        self.approver = approver
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def answer(self, request: Mapping[str, Any]) -> ApprovalResult:
        """Answer an approval request (see :func:`kitelogik.adapters.approval_request`)."""
        with self._lock:
            self.requests.append(dict(request))
            index = len(self.requests) - 1
            kind = self.script[index] if index < len(self.script) else "deny"
        digest = request.get("binding_digest")
        rid = f"kit-approval-{index + 1}"
        who = (self.approver,)
        if kind == "approve":
            return ApprovalResult(True, "approved by the kit", who, rid, digest, "approved")
        if kind == "forge":
            return ApprovalResult(True, "approved (forged)", who, rid, "0" * 64, "approved")
        if kind == "unbound":
            return ApprovalResult(True, "approved (unbound)", who, rid, None, "approved")
        if kind == "expire":
            return ApprovalResult(False, "approval request expired", (), rid, None, "expired")
        return ApprovalResult(False, "rejected by the kit reviewer", who, rid, None, "denied")

    def wait_for_approval(
        self, decision: Decision, event: GovernanceEvent, timeout: float
    ) -> ApprovalResult:
        from kitelogik.adapters import approval_request

        return self.answer(approval_request(decision))

    async def await_approval(
        self, decision: Decision, event: GovernanceEvent, timeout: float
    ) -> ApprovalResult:
        return self.wait_for_approval(decision, event, timeout)


class SideEffectLog:
    """What the kit's tools really did: ``(tool name, arguments as received)`` in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def record(self, name: str, args: Mapping[str, Any]) -> None:
        with self._lock:
            self.calls.append((name, thaw(dict(args))))

    def of(self, name: str) -> list[dict[str, Any]]:
        return [a for n, a in self.calls if n == name]


class FailingEngine:
    """A policy engine that is down: every evaluation raises :class:`EngineError`."""

    name = "failing"
    policy_version = "unavailable"

    def __init__(self, message: str = "kit: policy engine unavailable") -> None:
        self.message = message
        self.calls = 0

    def evaluate(self, input_json: str) -> EngineResult:
        self.calls += 1
        raise EngineError(self.message)

    async def aevaluate(self, input_json: str) -> EngineResult:
        return self.evaluate(input_json)
