"""The adapter conformance kit: behaviour every ``kitelogik-<framework>`` plugin must share.

Subclass :class:`AdapterConformance` as ``Test<Framework>Conformance`` in the plugin's tests and
implement :meth:`~AdapterConformance.run` (sync path) and :meth:`~AdapterConformance.arun` (async
path): build the framework's own agent with the plugin installed, the kit's tools
(``h.tools``) and a scripted model answering ``h.script``, run it through the framework's REAL
agent loop, and return what the model received as each tool call's result. The kit checks the
rest (side effects, audit, approvals) for every scenario in :mod:`kitelogik.testing.scenarios`,
on both paths.

Overriding a kit test is allowed only as an explicit expected failure::

    @pytest.mark.xfail(reason="<framework> cannot ... (link)", strict=True)
    def test_parallel_calls_each_decided(self, mode): ...

Anything else raises ``TypeError`` when the subclass is defined.
"""

from __future__ import annotations

import abc
import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pytest

from kitelogik.canonical import thaw
from kitelogik.events import SessionContext
from kitelogik.gate import PolicyGate
from kitelogik.protocols import ApprovalResult
from kitelogik.testing.fakes import (
    FailingEngine,
    RecordingAudit,
    ScriptedApprover,
    SideEffectLog,
    kit_engine,
)
from kitelogik.testing.scenarios import Scenario, ToolSpec, Turn, make_tools, scenario

__all__ = ["AdapterConformance", "Harness", "Transcript"]

Mode = Literal["sync", "async"]
ApprovalStyle = Literal["inline", "interrupt"]


@dataclass
class Transcript:
    """What the run produced, as observed by the scripted model.

    ``seen`` maps each tool call id to the text the model received as that call's result in its
    next request (not what the agent returned: the model's view is what matters)."""

    seen: dict[str, str] = field(default_factory=dict)
    final: str | None = None


@dataclass
class Harness:
    """Everything one scenario run needs. Build the agent from these, nothing else."""

    scenario: Scenario
    mode: Mode
    gate: PolicyGate
    tools: list[ToolSpec]
    context: SessionContext
    audit: RecordingAudit
    approver: ScriptedApprover
    effects: SideEffectLog
    approval_style: ApprovalStyle
    transcript: Transcript | None = None

    @property
    def script(self) -> tuple[Turn, ...]:
        return self.scenario.script

    def tool(self, name: str) -> ToolSpec:
        return next(t for t in self.tools if t.name == name)

    def approve(self, request: Mapping[str, Any]) -> ApprovalResult:
        """Interrupt style: the human's answer to an approval request the run paused on (the
        payload from :func:`kitelogik.adapters.approval_request`). Resume the run with
        :func:`kitelogik.adapters.approval_answer` of it."""
        return self.approver.answer(request)


_MODES = pytest.mark.parametrize("mode", ["sync", "async"])


class AdapterConformance(abc.ABC):
    """Conformance tests for one adapter. See the module docstring."""

    #: ``inline``: escalations wait for the gate's approver inside the call (the kit configures
    #: the gate with a scripted approver). ``interrupt``: the run pauses (the gate has no
    #: approver) and the subclass resumes it with ``h.approve(request)``.
    approval_style: ClassVar[ApprovalStyle] = "inline"
    #: Paths the framework does not have, with the reason (e.g. ``{"sync": "async-only API"}``).
    unsupported_modes: ClassVar[Mapping[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in vars(cls).items():
            if not name.startswith("test_") or not hasattr(AdapterConformance, name):
                continue
            marks = getattr(value, "pytestmark", [])
            reason = next(
                (
                    m.kwargs.get("reason") or (m.args[1] if len(m.args) > 1 else None)
                    for m in marks
                    if m.name == "xfail"
                ),
                None,
            )
            if not (isinstance(reason, str) and reason.strip()):
                raise TypeError(
                    f"{cls.__name__}.{name} overrides a kitelogik conformance test; that is only "
                    "allowed as an explicit expected failure: "
                    "@pytest.mark.xfail(reason='why this framework cannot', strict=True)"
                )
        for mode, reason in cls.unsupported_modes.items():
            if mode not in ("sync", "async") or not (isinstance(reason, str) and reason.strip()):
                raise TypeError(f"{cls.__name__}.unsupported_modes needs a reason per mode")

    # ---------------------------------------------------------------- what a plugin implements

    @abc.abstractmethod
    def run(self, h: Harness) -> Transcript:
        """Run ``h.script`` through the framework's real agent loop, synchronously."""

    @abc.abstractmethod
    async def arun(self, h: Harness) -> Transcript:
        """Run ``h.script`` through the framework's real agent loop, asynchronously."""

    # ---------------------------------------------------------------- the machinery

    def harness(self, scenario_id: str, mode: Mode) -> Harness:
        s = scenario(scenario_id)
        effects = SideEffectLog()
        audit = RecordingAudit()
        approver = ScriptedApprover(s.approvals)
        engine = FailingEngine() if s.engine == "failing" else kit_engine()
        gate = PolicyGate(
            engine, audit=audit, approver=approver if self.approval_style == "inline" else None
        )
        tools = make_tools(effects, governed_by=gate if s.nested else None)
        ctx = SessionContext(
            session_id=f"kit-{s.id}-{mode}",
            agent_id="kit-agent",
            user_role="tester",
            session_scopes=("kit",),
        )
        return Harness(s, mode, gate, tools, ctx, audit, approver, effects, self.approval_style)

    def execute(self, scenario_id: str, mode: Mode) -> Harness:
        if mode in self.unsupported_modes:
            pytest.skip(f"{mode} path unsupported: {self.unsupported_modes[mode]}")
        h = self.harness(scenario_id, mode)
        transcript = self.run(h) if mode == "sync" else asyncio.run(self.arun(h))
        h.transcript = transcript
        self.verify(h, transcript)
        return h

    def verify(self, h: Harness, t: Transcript) -> None:
        """Every check the kit makes on a finished run. If this fails, the message says which
        promise the adapter broke."""
        s = h.scenario
        calls = s.calls
        # 1. Side effects: exactly the expected tool bodies ran, with exactly these arguments.
        ran = Counter(_key(n, a) for n, a in h.effects.calls)
        want = Counter(_key(n, a) for n, a in s.ran)
        assert ran == want, (
            f"[{s.id}/{h.mode}] tool bodies that ran {h.effects.calls} != expected {list(s.ran)}: "
            "a denied or unapproved call ran, or an allowed call ran with other arguments / "
            "more than once"
        )
        # 2. The model received each call's result (a denial reason for a refused call).
        for call in calls:
            got = t.seen.get(call.id)
            assert got is not None, (
                f"[{s.id}/{h.mode}] the model never received a result for {call.id} "
                f"({call.name}); it saw results for {sorted(t.seen)}"
            )
            expected = s.seen.get(call.id)
            if expected is not None:
                assert expected in got, (
                    f"[{s.id}/{h.mode}] the model received {got!r} for {call.id} ({call.name}), "
                    f"expected it to contain {expected!r}"
                )
        # 3. Every call decided and audited exactly once (nested enforcement reuses the decision).
        decisions = h.audit.decisions
        assert len({d.id for d in decisions}) == len(decisions), "a decision was audited twice"
        assert Counter(d.action for d in decisions) == Counter(c.name for c in calls), (
            f"[{s.id}/{h.mode}] audited decisions {[d.action for d in decisions]} != calls "
            f"{[c.name for c in calls]}: each call must be decided (and audited) exactly once"
        )
        # 4. Outcomes: an allowed call's outcome is recorded once, with the decided arguments.
        for d in decisions:
            outs = h.audit.outcomes_of(d.id)
            ran_outs = [o for o in outs if o.outcome in ("ran", "failed")]
            assert len(outs) <= 1, f"[{s.id}/{h.mode}] outcome of {d.action} recorded {len(outs)}x"
            if d.verdict == "deny":
                assert not ran_outs, f"[{s.id}/{h.mode}] a denied {d.action} has a run outcome"
            if ran_outs:
                received = h.effects.of(d.action)
                assert thaw(d.args) in received, (
                    f"[{s.id}/{h.mode}] {d.action} ran with {received}, but the decided "
                    f"arguments were {thaw(d.args)}"
                )
                if d.verdict == "escalate":
                    final = ran_outs[0].decision
                    approval = final.approval or {}
                    assert approval.get("digest") == d.binding_digest, (
                        "an escalated call ran without its bound approval"
                    )
        ran_names = Counter(n for n, _ in h.effects.calls)
        run_outcomes = Counter(
            o.decision.action for o in h.audit.outcomes if o.outcome in ("ran", "failed")
        )
        assert ran_names == run_outcomes, (
            f"[{s.id}/{h.mode}] tool bodies {dict(ran_names)} vs audited run outcomes "
            f"{dict(run_outcomes)}: a call ran outside PolicyGate.invoke/ainvoke"
        )
        # 5. Escalations waited for an approval bound to their decision.
        escalated = [d for d in decisions if d.verdict == "escalate"]
        assert len(escalated) == s.escalations, (
            f"[{s.id}/{h.mode}] {len(escalated)} escalations, expected {s.escalations}"
        )
        assert len(h.approver.requests) == s.escalations, (
            f"[{s.id}/{h.mode}] {len(h.approver.requests)} approval requests for "
            f"{s.escalations} escalated calls (each must wait for exactly one approval)"
        )
        digests = {d.binding_digest for d in escalated}
        for req in h.approver.requests:
            assert req.get("binding_digest") in digests, "approval request not bound to its call"

    # ---------------------------------------------------------------- the tests

    @_MODES
    def test_allowed_call_runs_with_decided_args(self, mode: Mode) -> None:
        self.execute("allow", mode)

    @_MODES
    def test_arguments_reach_the_tool_unchanged(self, mode: Mode) -> None:
        self.execute("args-fidelity", mode)

    @_MODES
    def test_denied_call_never_runs_and_model_gets_reason(self, mode: Mode) -> None:
        self.execute("deny", mode)

    @_MODES
    def test_escalation_approved_runs_once(self, mode: Mode) -> None:
        self.execute("escalate-approve", mode)

    @_MODES
    def test_escalation_rejected_never_runs(self, mode: Mode) -> None:
        self.execute("escalate-deny", mode)

    @_MODES
    def test_escalation_expired_never_runs(self, mode: Mode) -> None:
        self.execute("escalate-expire", mode)

    @_MODES
    def test_forged_approval_never_runs(self, mode: Mode) -> None:
        self.execute("escalate-forged", mode)

    @_MODES
    def test_parallel_calls_each_decided(self, mode: Mode) -> None:
        self.execute("parallel", mode)

    @_MODES
    def test_parallel_calls_with_escalation(self, mode: Mode) -> None:
        self.execute("parallel-escalation", mode)

    @_MODES
    def test_two_escalations_in_one_turn_each_wait(self, mode: Mode) -> None:
        h = self.execute("parallel-two-escalations", mode)
        seen = h.transcript.seen if h.transcript else {}
        texts = [seen.get("call_1", ""), seen.get("call_2", "")]
        ran = [t for t in texts if "transferred 3 to dave" in t]
        refused = [t for t in texts if "rejected by the kit reviewer" in t]
        assert (len(ran), len(refused)) == (1, 1), (
            f"each escalated call must get its own answer: the model saw {texts}"
        )

    @_MODES
    def test_engine_failure_denies(self, mode: Mode) -> None:
        self.execute("engine-failure", mode)

    @_MODES
    def test_nested_enforcement_decides_once(self, mode: Mode) -> None:
        self.execute("nested", mode)

    @_MODES
    def test_multi_turn_each_decision_audited_once(self, mode: Mode) -> None:
        self.execute("multi-turn", mode)


def _key(name: str, args: Mapping[str, Any]) -> str:
    import json

    return json.dumps([name, thaw(dict(args))], sort_keys=True)
