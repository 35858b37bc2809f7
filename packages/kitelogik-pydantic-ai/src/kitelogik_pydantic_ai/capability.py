"""Policy before every tool call of a PydanticAI agent.

PydanticAI's native hooks used here:

* a capability (``AbstractCapability.get_wrapper_toolset``): called per run with the agent's
  assembled toolset, so one ``KitelogikCapability`` governs every tool of an agent (``tools=``,
  ``@agent.tool``, ``toolsets=``, MCP servers), attached at construction
  (``Agent(capabilities=[...])``) or per run (``agent.run(..., capabilities=[...])``);
* a wrapper toolset (``WrapperToolset.call_tool``, :class:`KitelogikToolset`): decides each call
  on its validated arguments, then calls the wrapped toolset with exactly the decided ones
  inside ``PolicyGate.ainvoke``;
* a denial is ``ToolFailed(reason)``: the model receives it as a failed tool result
  (``ToolReturnPart`` with outcome ``failed``) and no retry budget is spent. ``ModelRetry`` is
  never used: a denial would count against the tool's retries and end the run;
* an escalation is ``ApprovalRequired(metadata=<approval request>)``: the run ends with
  ``DeferredToolRequests`` (the agent's ``output_type`` must include it) and is resumed with
  ``DeferredToolResults`` built by :meth:`KitelogikCapability.results`, which approves only
  answers bound to the decision's digest.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kitelogik import adapters
from kitelogik.adapters import ContextSource
from kitelogik.canonical import thaw
from kitelogik.decision import Decision
from kitelogik.events import GovernanceEvent, SessionContext
from kitelogik.gate import PolicyGate
from pydantic_ai import ApprovalRequired, DeferredToolRequests, DeferredToolResults, ToolDenied
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.toolsets import AbstractToolset, WrapperToolset

__all__ = ["KitelogikCapability", "KitelogikToolset"]

FRAMEWORK = "pydantic-ai"
Escalation = Literal["auto", "approver", "interrupt"]
#: Escalations kept for a resume. A forgotten one is decided again on resume and, still being an
#: escalation without its pending decision, refused: the bound costs approvals, never safety.
MAX_PENDING = 10_000


def _fingerprint(event: GovernanceEvent) -> str:
    return json.dumps(
        [event.event_type, event.action, thaw(event.args)], sort_keys=True, default=repr
    )


class _Governor:
    """The decisions of one capability: deciding a call, pending escalations, approvals."""

    def __init__(
        self,
        gate: PolicyGate | None,
        context: ContextSource,
        escalation: Escalation,
        tools: Mapping[str, Mapping[str, Any]] | None,
    ) -> None:
        if gate is None:
            from kitelogik.governed import _default_gate

            gate = _default_gate()
        if escalation not in ("auto", "approver", "interrupt"):
            raise ValueError(f"escalation must be auto, approver or interrupt, not {escalation!r}")
        self.gate = gate
        # A fixed session is tagged with the framework once, not on every call.
        self.context = (
            context.with_framework(FRAMEWORK)
            if isinstance(context, SessionContext) and context.framework != FRAMEWORK
            else context
        )
        self.escalation: Escalation = escalation
        self.tool_facts = {k: dict(v) for k, v in (tools or {}).items()}
        #: (session id, call id) -> (fingerprint, decision): escalated, waiting for a resume.
        self._pending: dict[tuple[str, str], tuple[str, Decision]] = {}
        self._lock = threading.Lock()

    @property
    def interrupts(self) -> bool:
        if self.escalation == "auto":
            return self.gate.approver is None
        return self.escalation == "interrupt"

    def event(self, name: str, args: Mapping[str, Any], tool: Any = None) -> GovernanceEvent:
        facts = dict(self.tool_facts.get(name) or {})
        meta = getattr(getattr(tool, "tool_def", None), "metadata", None) or {}
        if isinstance(meta, Mapping) and isinstance(meta.get("kitelogik"), Mapping):
            facts = {**meta["kitelogik"], **facts}
        return adapters.tool_call_event(
            name, args, context=self.context, framework=FRAMEWORK, tool=facts or None
        )

    def _take(self, key: tuple[str, str], event: GovernanceEvent) -> Decision | None:
        with self._lock:
            item = self._pending.get(key)
            if item is None or item[0] != _fingerprint(event):
                return None
            del self._pending[key]
        return item[1]

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    async def decide(self, name: str, args: dict[str, Any], ctx: Any, tool: Any) -> Decision:
        """The final decision for a call (raises ``ApprovalRequired`` to pause for a human)."""
        event = self.event(name, args, tool)
        key = (event.context.session_id, str(getattr(ctx, "tool_call_id", None) or ""))
        if getattr(ctx, "tool_call_approved", False):
            decision = self._take(key, event)
            if decision is None:
                # Approved by the framework, but not a call kitelogik paused (or its arguments
                # were changed on approval): decide it afresh; an escalation is not approved.
                decision = await self.gate.acheck(event)
            if decision.verdict == "escalate":
                decision = await adapters.aresolve_approval(self.gate, decision, None)
            return decision
        if not self.interrupts:
            return await self.gate.aauthorize(event)
        decision = await self.gate.acheck(event)
        if decision.verdict == "escalate":
            with self._lock:
                self._pending[key] = (_fingerprint(event), decision)
                while len(self._pending) > MAX_PENDING:  # never resumed: forget the oldest
                    del self._pending[next(iter(self._pending))]
            raise ApprovalRequired(metadata=adapters.approval_request(decision, call_id=key[1]))
        return decision

    def find(self, call_id: str, args: Mapping[str, Any] | None) -> Decision | None:
        with self._lock:
            for (_, cid), (_, decision) in self._pending.items():
                if (
                    cid == call_id
                    and decision.verdict == "escalate"
                    and (args is None or thaw(decision.args) == dict(args))
                ):
                    return decision
        return None

    def settle(self, decision: Decision, resolved: Decision) -> None:
        with self._lock:
            for key, (fp, d) in list(self._pending.items()):
                if d.id == decision.id:
                    if resolved.allowed:
                        self._pending[key] = (fp, resolved)
                    else:
                        del self._pending[key]


@dataclass
class KitelogikToolset(WrapperToolset[Any]):
    """A toolset wrapper that decides every call of the wrapped toolset by policy first.

    Use it directly (``Agent(model, toolsets=[KitelogikToolset(toolset, gate)])``) or through
    :class:`KitelogikCapability`, which wraps all of an agent's tools. (A dataclass, so the
    copies PydanticAI makes per run share this wrapper's gate and pending escalations.)"""

    gate: PolicyGate | None = None
    context: ContextSource = None
    escalation: Escalation = "auto"
    tools: Mapping[str, Mapping[str, Any]] | None = None
    kitelogik: _Governor = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.kitelogik is None:
            self.kitelogik = _Governor(self.gate, self.context, self.escalation, self.tools)
            self.gate = self.kitelogik.gate

    async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: Any, tool: Any) -> Any:
        gov = self.kitelogik
        decision = await gov.decide(name, tool_args, ctx, tool)
        if not decision.allowed:
            raise ToolFailed(adapters.denial_message(decision))
        wrapped = self.wrapped

        async def run(decided: dict[str, Any]) -> Any:
            return await wrapped.call_tool(name, decided, ctx, tool)

        return await adapters.arun_allowed(gov.gate, decision, run)


class KitelogikCapability(AbstractCapability[Any]):
    """Kite Logik for PydanticAI: every tool call of an agent is decided by policy first.

    ``Agent(model, tools=[...], capabilities=[KitelogikCapability(gate)])`` (or pass it per run).

    * allow: the tool runs with exactly the decided arguments, inside
      :meth:`PolicyGate.ainvoke`;
    * deny: ``ToolFailed("[kitelogik] DENIED <tool>: <reason>")`` -- the model receives a failed
      tool result; the tool never runs; no retry budget is used;
    * escalate: ``approver`` waits for the gate's approver inside the call; ``interrupt``
      raises ``ApprovalRequired`` whose metadata is the approval request (``binding_digest``
      included), so the run ends with ``DeferredToolRequests`` (add it to ``output_type``).
      Build the resume with :meth:`results` from the humans' answers. ``auto`` (default) uses
      the approver when the gate has one, else interrupts.

    ``tools`` holds facts about tools for the policy (``{"send_email": {"external": True}}``);
    a tool's ``metadata={"kitelogik": {...}}`` is used too. Pending escalations are kept in
    this object (in memory): resume in the same process with the same capability."""

    def __init__(
        self,
        gate: PolicyGate | None = None,
        *,
        context: ContextSource = None,
        escalation: Escalation = "auto",
        tools: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.kitelogik = _Governor(gate, context, escalation, tools)

    @property
    def gate(self) -> PolicyGate:
        return self.kitelogik.gate

    def get_wrapper_toolset(self, toolset: AbstractToolset[Any]) -> AbstractToolset[Any]:
        return KitelogikToolset(toolset, self.gate, kitelogik=self.kitelogik)

    def pending(self) -> int:
        """Escalated calls waiting for a resume."""
        return self.kitelogik.pending()

    def approval_requests(self, requests: DeferredToolRequests) -> dict[str, dict[str, Any]]:
        """What a human is shown, by tool call id, for the kitelogik escalations among
        ``requests.approvals`` (the same documents as ``requests.metadata``)."""
        out: dict[str, dict[str, Any]] = {}
        for call in requests.approvals:
            decision = self.kitelogik.find(call.tool_call_id, call.args_as_dict())
            if decision is not None:
                out[call.tool_call_id] = adapters.approval_request(
                    decision, call_id=call.tool_call_id
                )
        return out

    def _results(self, answers: Mapping[str, Any], resolved: dict[str, Decision]) -> Any:
        approvals: dict[str, Any] = {}
        for call_id, decision in resolved.items():
            approvals[call_id] = (
                True if decision.allowed else ToolDenied(adapters.denial_message(decision))
            )
        for call_id, answer in answers.items():
            if call_id not in approvals:  # not a kitelogik escalation: pass the answer through
                approvals[call_id] = bool(adapters._as_result(answer).approved) or ToolDenied()
        return DeferredToolResults(approvals=approvals)

    def results(self, requests: DeferredToolRequests, answers: Mapping[str, Any]) -> Any:
        """``DeferredToolResults`` for resuming a paused run, from the humans' ``answers`` by
        tool call id (each an :class:`~kitelogik.protocols.ApprovalResult` or
        :func:`~kitelogik.adapters.approval_answer` mapping). Only an answer bound to its
        call's decision approves it; anything else (a bare ``True``, a missing answer, an
        answer for another call) denies it and the model receives the reason."""
        resolved: dict[str, Decision] = {}
        for call in requests.approvals:
            decision = self.kitelogik.find(call.tool_call_id, call.args_as_dict())
            if decision is None:
                continue
            outcome = adapters.resolve_approval(self.gate, decision, answers.get(call.tool_call_id))
            self.kitelogik.settle(decision, outcome)
            resolved[call.tool_call_id] = outcome
        return self._results(answers, resolved)

    async def aresults(self, requests: DeferredToolRequests, answers: Mapping[str, Any]) -> Any:
        """:meth:`results` with refusals recorded through the async path."""
        resolved: dict[str, Decision] = {}
        for call in requests.approvals:
            decision = self.kitelogik.find(call.tool_call_id, call.args_as_dict())
            if decision is None:
                continue
            outcome = await adapters.aresolve_approval(
                self.gate, decision, answers.get(call.tool_call_id)
            )
            self.kitelogik.settle(decision, outcome)
            resolved[call.tool_call_id] = outcome
        return self._results(answers, resolved)
