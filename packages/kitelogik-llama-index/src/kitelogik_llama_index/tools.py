"""Policy before every tool call and handoff of a LlamaIndex agent.

LlamaIndex agents (``FunctionAgent``, ``ReActAgent``, ``CodeActAgent``, ``AgentWorkflow``) are
workflows with no before-tool hook: every call goes through the tool object's ``acall``. So
the native mechanism is the tool itself. :class:`GovernedTool` wraps any tool, keeps its
metadata (the model sees the same name and schema) and is a ``FunctionTool`` that asks for the
workflow ``Context`` (``requires_context``), which it needs for approvals:

* allow: the inner tool runs with exactly the decided arguments inside
  :meth:`PolicyGate.ainvoke` (outcome audited, nested enforcement points reuse the decision);
* deny: the inner tool never runs; the model receives ``ToolOutput(is_error=True)`` with the
  reason (``Observation:`` for ReAct agents);
* escalate: with an approver on the gate, the call waits for it. Without one, the step waits
  for a human with LlamaIndex's own ``ctx.wait_for_event(HumanResponseEvent,
  waiter_event=InputRequiredEvent(...))``. The runtime pauses by raising and **replays the whole
  step** when the answer arrives, so the escalated decision is kept and reused on the replay:
  one decision, one audit record, one approval request per call.

:class:`GovernedAgentWorkflow` is an ``AgentWorkflow`` that governs every agent's tools
(including retrieved ones) and decides its built-in ``handoff`` tool as ``agent.delegate`` to the
target agent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from kitelogik import adapters
from kitelogik.adapters import ContextSource, PendingEscalations
from kitelogik.decision import Decision
from kitelogik.events import GovernanceEvent, SessionContext
from kitelogik.gate import PolicyGate
from kitelogik.protocols import ApprovalResult
from llama_index.core.agent.workflow import AgentWorkflow
from llama_index.core.tools import AsyncBaseTool, BaseTool, FunctionTool, ToolOutput
from llama_index.core.tools.types import adapt_to_async_tool
from llama_index.core.workflow import HumanResponseEvent, InputRequiredEvent

__all__ = ["GovernedAgentWorkflow", "GovernedTool", "approval_response", "govern_tools"]

FRAMEWORK = "llama-index"
HANDOFF = "handoff"
Escalation = Literal["auto", "approver", "event"]
_CTX = "_kitelogik_ctx"
_SPAN_DONE = "__dispatcher_span_decorated__"


async def _unused(**kwargs: Any) -> None:  # pragma: no cover - acall/call are overridden
    raise RuntimeError("GovernedTool runs its inner tool")


def approval_response(request: InputRequiredEvent, result: ApprovalResult) -> HumanResponseEvent:
    """The answer to a Kite Logik approval request seen on the event stream:
    ``handler.ctx.send_event(approval_response(ev, reviewer(ev.kitelogik)))``. Only an
    approval carrying the request's ``binding_digest`` approves the call."""
    return HumanResponseEvent(
        response="approved" if result.approved else "denied",
        decision_id=request.get("decision_id"),
        kitelogik=adapters.approval_answer(result),
    )


class GovernedTool(FunctionTool):
    """A LlamaIndex tool whose every call is decided by policy first (see the module doc).

    ``GovernedTool(inner, gate, context=session, delegate_to=None, escalation="auto")``.
    ``delegate_to``: decide calls as ``agent.delegate`` (the action is the value of that
    argument, e.g. ``"to_agent"`` for ``handoff``) instead of ``tool_call``. ``escalation``:
    ``approver`` waits for the gate's approver, ``event`` pauses the workflow for a
    ``HumanResponseEvent``; ``auto`` (default) uses the approver when the gate has one.
    """

    def __init__(
        self,
        inner: BaseTool,
        gate: PolicyGate | None = None,
        *,
        context: ContextSource = None,
        tool: Mapping[str, Any] | None = None,
        delegate_to: str | None = None,
        escalation: Escalation = "auto",
        pending: PendingEscalations | None = None,
    ) -> None:
        if gate is None:
            from kitelogik.governed import _default_gate

            gate = _default_gate()
        if escalation not in ("auto", "approver", "event"):
            raise ValueError(f"escalation must be auto, approver or event, not {escalation!r}")
        super().__init__(async_fn=_unused, metadata=inner.metadata)
        self.inner: AsyncBaseTool = adapt_to_async_tool(inner)
        self.gate = gate
        self.context: ContextSource = (
            adapters.resolve_context(context, FRAMEWORK)
            if isinstance(context, SessionContext)
            else context
        )
        self.facts = dict(tool) if tool is not None else None
        self.delegate_to = delegate_to
        self.escalation: Escalation = escalation
        self.pending = pending if pending is not None else PendingEscalations()
        # The agent injects the workflow Context under this keyword (approvals need it). An inner
        # tool that wants the Context itself (handoff) gets it under its own name.
        inner_ctx = getattr(inner, "ctx_param_name", None)
        self._inner_ctx = inner_ctx if getattr(inner, "requires_context", False) else None
        self.requires_context = True
        self.ctx_param_name: str | None = self._inner_ctx or _CTX

    @property
    def interrupts(self) -> bool:
        if self.escalation == "auto":
            return self.gate.approver is None
        return self.escalation == "event"

    # ------------------------------------------------------------------ pieces

    def event(self, kwargs: Mapping[str, Any]) -> GovernanceEvent:
        name = self.metadata.get_name()
        if self.delegate_to is not None:
            target = kwargs.get(self.delegate_to)
            if not isinstance(target, str) or not target:
                raise adapters.ArgumentsError(f"{self.delegate_to!r} must name an agent")
            return adapters.delegation_event(
                target, kwargs, context=self.context, framework=FRAMEWORK
            )
        return adapters.tool_call_event(
            name, kwargs, context=self.context, framework=FRAMEWORK, tool=self.facts
        )

    def _output(self, kwargs: Mapping[str, Any], text: str) -> ToolOutput:
        return ToolOutput(
            content=text,
            tool_name=self.metadata.get_name(),
            raw_input=dict(kwargs),
            raw_output=text,
            is_error=True,
        )

    def _split(self, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        ctx = kwargs.pop(self.ctx_param_name or _CTX, None)
        return ctx, kwargs

    def _inner_kwargs(self, ctx: Any, decided: dict[str, Any]) -> dict[str, Any]:
        if self._inner_ctx is not None:
            return {**decided, self._inner_ctx: ctx}
        return decided

    # ------------------------------------------------------------------ the calls

    async def acall(self, *args: Any, **kwargs: Any) -> ToolOutput:
        ctx, kwargs = self._split(kwargs)
        if args:
            return self._output(
                kwargs, adapters.error_message(self.metadata.get_name(), "positional arguments")
            )
        try:
            event = self.event(kwargs)
        except Exception as exc:  # noqa: BLE001 - anything we cannot describe is refused
            return self._output(kwargs, adapters.error_message(self.metadata.get_name(), exc))

        async def run(decided: dict[str, Any]) -> ToolOutput:
            return await self.inner.acall(**self._inner_kwargs(ctx, decided))

        def deny(text: str, _: Decision) -> ToolOutput:
            return self._output(kwargs, text)

        if ctx is None or not self.interrupts:
            return await adapters.agovern(self.gate, event, run, deny)
        decision = await self._wait_for_human(ctx, event)
        if not decision.allowed:
            return deny(adapters.denial_message(decision), decision)
        return await adapters.arun_allowed(self.gate, decision, run)

    async def _wait_for_human(self, ctx: Any, event: GovernanceEvent) -> Decision:
        run_id, call_id = _step_ids(ctx)
        call_id = call_id or _fingerprint(event)
        decision = self.pending.get(run_id, call_id, event)
        if decision is None:
            decision = await self.gate.acheck(event)
            if decision.verdict != "escalate":
                return decision
            self.pending.put(run_id, call_id, event, decision)
        request = adapters.approval_request(decision)
        try:
            answer = await ctx.wait_for_event(
                HumanResponseEvent,
                waiter_id=f"kitelogik-{decision.id}",
                waiter_event=InputRequiredEvent(
                    prefix=_prompt(decision),
                    decision_id=decision.id,
                    kitelogik=request,
                ),
                requirements={"decision_id": decision.id},
                timeout=self.gate.approval_timeout,
            )
        except TimeoutError:
            self.pending.pop(run_id, call_id)
            return await adapters.aresolve_approval(
                self.gate,
                decision,
                ApprovalResult(False, "approval request expired", status="expired"),
            )
        # Anything else (the runtime's "waiting for event" signal) propagates: the step
        # replays when the answer arrives and finds this decision in self.pending.
        self.pending.pop(run_id, call_id)
        return await adapters.aresolve_approval(self.gate, decision, answer.get("kitelogik"))

    def call(self, *args: Any, **kwargs: Any) -> ToolOutput:
        """Direct synchronous use (outside an agent): decided like ``acall``; escalations wait
        for the gate's approver (no approver: deny)."""
        ctx, kwargs = self._split(kwargs)
        if args:
            return self._output(
                kwargs, adapters.error_message(self.metadata.get_name(), "positional arguments")
            )
        try:
            event = self.event(kwargs)
        except Exception as exc:  # noqa: BLE001
            return self._output(kwargs, adapters.error_message(self.metadata.get_name(), exc))

        def run(decided: dict[str, Any]) -> ToolOutput:
            return self.inner.call(**self._inner_kwargs(ctx, decided))

        def deny(text: str, _: Decision) -> ToolOutput:
            return self._output(kwargs, text)

        return adapters.govern(self.gate, event, run, deny)

    def __call__(self, *args: Any, **kwargs: Any) -> ToolOutput:
        return self.call(*args, **kwargs)

    # LlamaIndex's instrumentation wraps overridden tool methods in a span; the inner tool's own
    # call already opens one, so the wrapper does not add a second span per call.
    for _method in (acall, call, __call__):
        setattr(_method, _SPAN_DONE, True)
    del _method


def govern_tools(
    tools: Sequence[BaseTool | Any],
    gate: PolicyGate | None = None,
    *,
    context: ContextSource = None,
    tool_facts: Mapping[str, Mapping[str, Any]] | None = None,
    escalation: Escalation = "auto",
) -> list[GovernedTool]:
    """Governed versions of ``tools`` (LlamaIndex tools or plain functions) for any LlamaIndex
    agent: ``FunctionAgent(tools=govern_tools(tools, gate), ...)``. Already governed tools are
    kept as they are."""
    facts = {k: dict(v) for k, v in (tool_facts or {}).items()}
    pending = PendingEscalations()
    out = []
    for t in tools:
        if isinstance(t, GovernedTool):
            out.append(t)
            continue
        inner = t if isinstance(t, BaseTool) else FunctionTool.from_defaults(fn=t)
        out.append(
            GovernedTool(
                inner,
                gate,
                context=context,
                tool=facts.get(inner.metadata.get_name()),
                escalation=escalation,
                pending=pending,
            )
        )
    return out


class GovernedAgentWorkflow(AgentWorkflow):
    """An ``AgentWorkflow`` whose every tool call (each agent's tools, retrieved tools) is
    decided by policy, and whose ``handoff`` tool is decided as ``agent.delegate`` to the
    target agent (``to_agent``), before the handoff happens.

    ``GovernedAgentWorkflow(agents=[...], root_agent=..., gate=gate, context=session)``."""

    def __init__(
        self,
        *args: Any,
        gate: PolicyGate | None = None,
        context: ContextSource = None,
        tool_facts: Mapping[str, Mapping[str, Any]] | None = None,
        escalation: Escalation = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if gate is None:
            from kitelogik.governed import _default_gate

            gate = _default_gate()
        self._kl_gate = gate
        self._kl_context = context
        self._kl_facts = {k: dict(v) for k, v in (tool_facts or {}).items()}
        self._kl_escalation: Escalation = escalation
        self._kl_pending = PendingEscalations()
        self._kl_cache: dict[int, GovernedTool] = {}

    @property
    def gate(self) -> PolicyGate:
        return self._kl_gate

    def _govern(self, tool: Any) -> GovernedTool:
        if isinstance(tool, GovernedTool):
            return tool
        cached = self._kl_cache.get(id(tool))
        if cached is not None and cached.inner is tool:
            return cached
        name = tool.metadata.get_name()
        governed = GovernedTool(
            tool,
            self._kl_gate,
            context=self._kl_context,
            tool=self._kl_facts.get(name),
            delegate_to="to_agent" if name == HANDOFF else None,
            escalation=self._kl_escalation,
            pending=self._kl_pending,
        )
        if name != HANDOFF:  # the handoff tool is rebuilt on every call
            self._kl_cache[id(tool)] = governed
        return governed

    async def get_tools(
        self, agent_name: str, input_str: str | None = None
    ) -> Sequence[AsyncBaseTool]:
        tools = await super().get_tools(agent_name, input_str)
        return [self._govern(t) for t in tools]


_TOOL_ID = re.compile(r"\btool_id='([^'\\]{1,200})'")


def _step_ids(ctx: Any) -> tuple[str, str | None]:
    """The workflow run's id and the model's tool call id, both stable across the replays of a
    step (the Context object handed to a tool is not). The runtime tags each step run with them
    (the run id, and a summary of the step's input ``ToolCall`` event). Without a call id, the
    call's action and arguments stand in for it; then two identical escalated calls in one turn
    would share one approval."""
    try:
        from llama_index_instrumentation.dispatcher import active_instrument_tags

        tags = active_instrument_tags.get()
    except Exception:  # noqa: BLE001 - another runtime: fall back to the context object
        tags = {}
    run_id = tags.get("llamaindex.run_id")
    call_id = None
    if tags.get("llamaindex.step.input_event") == "ToolCall":
        m = _TOOL_ID.search(str(tags.get("llamaindex.step.input_summary") or ""))
        call_id = m.group(1) if m else None
    return (str(run_id) if run_id else f"ctx-{id(ctx)}"), call_id


def _fingerprint(event: GovernanceEvent) -> str:
    from kitelogik.canonical import thaw

    return json.dumps(
        [event.event_type, event.action, thaw(event.args)], sort_keys=True, default=repr
    )


def _prompt(decision: Decision) -> str:
    from kitelogik.canonical import thaw

    args = json.dumps(thaw(decision.args), sort_keys=True, default=repr)
    return f"Approve {decision.event_type} {decision.action}({args})? {decision.reason}"
