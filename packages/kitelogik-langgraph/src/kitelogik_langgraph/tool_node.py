"""Policy before every tool call of a LangGraph ``ToolNode``.

LangGraph's native hook is the pair ``ToolNode(wrap_tool_call=, awrap_tool_call=)``. Both are
always set here: a ToolNode with only the async wrapper silently runs tools ungoverned under
``invoke`` (verified), so never build one from half of :class:`KitelogikToolWrapper`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

from kitelogik import adapters
from kitelogik.adapters import ContextSource, PendingEscalations
from kitelogik.decision import Decision
from kitelogik.events import GovernanceEvent
from kitelogik.gate import PolicyGate
from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, Send, interrupt

__all__ = [
    "GovernedToolNode",
    "KitelogikToolWrapper",
    "governed_subgraph",
    "send_tool_calls",
]

FRAMEWORK = "langgraph"
Escalation = Literal["auto", "approver", "interrupt"]


def _run_id() -> str:
    try:
        from langgraph.config import get_config

        cfg = get_config()
    except Exception:  # noqa: BLE001 - outside a graph run
        return ""
    conf = cfg.get("configurable") or {}
    return str(conf.get("thread_id") or "")


class KitelogikToolWrapper:
    """The ``(wrap_tool_call, awrap_tool_call)`` pair that decides each call before it runs.

    * allow: the ToolNode's own execution runs with exactly the decided arguments, inside
      :meth:`PolicyGate.invoke` (outcome audited, nested enforcement points reuse the decision);
    * deny: the model receives ``ToolMessage(status="error")`` with the reason; the tool never
      runs;
    * escalate: ``approver`` waits for the gate's approver inside the call; ``interrupt`` pauses
      the run with ``langgraph.types.interrupt(request)`` (needs a checkpointer and a
      ``thread_id``) and resumes with ``Command(resume=kitelogik.adapters.approval_answer(...))``
      -- only an answer bound to the decision's digest approves. ``auto`` (default) uses the
      approver when the gate has one, else an interrupt.

    ``tools`` holds facts about tools for the policy (``{"send_email": {"external": True}}``);
    a tool's ``metadata["kitelogik"]`` mapping is used too. Neither comes from the model.
    """

    def __init__(
        self,
        gate: PolicyGate | None = None,
        *,
        context: ContextSource = None,
        escalation: Escalation = "auto",
        tools: Mapping[str, Mapping[str, Any]] | None = None,
        framework: str = FRAMEWORK,
    ) -> None:
        if gate is None:
            from kitelogik.governed import _default_gate

            gate = _default_gate()
        if escalation not in ("auto", "approver", "interrupt"):
            raise ValueError(f"escalation must be auto, approver or interrupt, not {escalation!r}")
        self.gate = gate
        self.context = context
        self.escalation: Escalation = escalation
        self.tool_facts = {k: dict(v) for k, v in (tools or {}).items()}
        self.framework = framework
        self.pending = PendingEscalations()

    # ------------------------------------------------------------------ pieces

    @property
    def interrupts(self) -> bool:
        if self.escalation == "auto":
            return self.gate.approver is None
        return self.escalation == "interrupt"

    def _facts(self, request: Any) -> Mapping[str, Any] | None:
        name = request.tool_call.get("name", "")
        facts = dict(self.tool_facts.get(name) or {})
        tool = getattr(request, "tool", None)
        meta = getattr(tool, "metadata", None) or {}
        if isinstance(meta.get("kitelogik"), Mapping):
            facts = {**meta["kitelogik"], **facts}
        return facts or None

    def _event(self, request: Any) -> GovernanceEvent:
        tc = request.tool_call
        return adapters.tool_call_event(
            tc["name"],
            adapters.parse_arguments(tc.get("args")),
            context=self.context,
            framework=self.framework,
            tool=self._facts(request),
        )

    @staticmethod
    def _message(request: Any, text: str) -> ToolMessage:
        tc = request.tool_call
        return ToolMessage(
            content=text, tool_call_id=tc.get("id") or "", name=tc.get("name"), status="error"
        )

    @staticmethod
    def _with_args(request: Any, decided: dict[str, Any]) -> Any:
        return request.override(tool_call={**request.tool_call, "args": decided})

    def _pending_decision(self, event: GovernanceEvent, call_id: str) -> tuple[str, Decision]:
        run_id = _run_id()
        if adapters.running_decision() is not None:
            # Inside an enforcement point already running a call: authorize reuses its decision
            # when this is that call (no second decision); a different call is decided here and
            # cannot pause (an escalation without an approver is a deny).
            return run_id, self.gate.authorize(event)
        decision = self.pending.get(run_id, call_id, event)
        if decision is None:
            decision = self.gate.check(event)
            if decision.verdict == "escalate":
                self.pending.put(run_id, call_id, event, decision)
        return run_id, decision

    async def _apending_decision(
        self, event: GovernanceEvent, call_id: str
    ) -> tuple[str, Decision]:
        run_id = _run_id()
        if adapters.running_decision() is not None:
            return run_id, await self.gate.aauthorize(event)
        decision = self.pending.get(run_id, call_id, event)
        if decision is None:
            decision = await self.gate.acheck(event)
            if decision.verdict == "escalate":
                self.pending.put(run_id, call_id, event, decision)
        return run_id, decision

    # ------------------------------------------------------------------ the hooks

    def wrap_tool_call(
        self, request: Any, execute: Callable[[Any], ToolMessage | Command]
    ) -> ToolMessage | Command:
        """The sync hook (``ToolNode(wrap_tool_call=...)``)."""
        try:
            event = self._event(request)
        except adapters.ArgumentsError as exc:
            return self._message(request, adapters.error_message(request.tool_call["name"], exc))

        def run(decided: dict[str, Any]) -> ToolMessage | Command:
            return execute(self._with_args(request, decided))

        def deny(text: str, _: Decision) -> ToolMessage:
            return self._message(request, text)

        if not self.interrupts:
            return adapters.govern(self.gate, event, run, deny)
        call_id = request.tool_call.get("id") or ""
        run_id, decision = self._pending_decision(event, call_id)
        if decision.verdict == "escalate":
            answer = interrupt(adapters.approval_request(decision, call_id=call_id))
            self.pending.pop(run_id, call_id)
            decision = adapters.resolve_approval(self.gate, decision, answer)
        if not decision.allowed:
            return deny(adapters.denial_message(decision), decision)
        return adapters.run_allowed(self.gate, decision, run)

    async def awrap_tool_call(
        self, request: Any, execute: Callable[[Any], Awaitable[ToolMessage | Command]]
    ) -> ToolMessage | Command:
        """The async hook (``ToolNode(awrap_tool_call=...)``)."""
        try:
            event = self._event(request)
        except adapters.ArgumentsError as exc:
            return self._message(request, adapters.error_message(request.tool_call["name"], exc))

        async def run(decided: dict[str, Any]) -> ToolMessage | Command:
            return await execute(self._with_args(request, decided))

        def deny(text: str, _: Decision) -> ToolMessage:
            return self._message(request, text)

        if not self.interrupts:
            return await adapters.agovern(self.gate, event, run, deny)
        call_id = request.tool_call.get("id") or ""
        run_id, decision = await self._apending_decision(event, call_id)
        if decision.verdict == "escalate":
            answer = interrupt(adapters.approval_request(decision, call_id=call_id))
            self.pending.pop(run_id, call_id)
            decision = await adapters.aresolve_approval(self.gate, decision, answer)
        if not decision.allowed:
            return deny(adapters.denial_message(decision), decision)
        return await adapters.arun_allowed(self.gate, decision, run)

    # Plain callables, for ToolNode(wrap_tool_call=w, awrap_tool_call=w.acall).
    __call__ = wrap_tool_call
    acall = awrap_tool_call


def GovernedToolNode(
    tools: Sequence[Any],
    gate: PolicyGate | None = None,
    *,
    context: ContextSource = None,
    escalation: Escalation = "auto",
    tool_facts: Mapping[str, Mapping[str, Any]] | None = None,
    **tool_node_kwargs: Any,
) -> ToolNode:
    """A LangGraph ``ToolNode`` whose every call is decided by ``gate`` first (both the sync and
    the async hook are set). Extra keyword arguments go to ``ToolNode``."""
    for key in ("wrap_tool_call", "awrap_tool_call"):
        if key in tool_node_kwargs:
            raise TypeError(f"{key} is set by GovernedToolNode; wrap the node's tools instead")
    wrapper = KitelogikToolWrapper(gate, context=context, escalation=escalation, tools=tool_facts)
    node = ToolNode(
        tools,
        wrap_tool_call=wrapper.wrap_tool_call,
        awrap_tool_call=wrapper.awrap_tool_call,
        **tool_node_kwargs,
    )
    node.kitelogik = wrapper  # type: ignore[attr-defined]
    return node


def send_tool_calls(
    state: Any, *, tools_node: str = "tools", messages_key: str = "messages"
) -> list[Send] | str:
    """A conditional-edge router that sends each tool call of the last AI message to the
    ``tools`` node as its own task (what LangChain's ``create_agent`` does). With escalation by
    interrupt use this instead of ``tools_condition``: on resume LangGraph re-runs only the
    paused call's task, not calls of the same turn that already ran. Returns ``"__end__"``
    when there is nothing to call."""
    messages = state.get(messages_key, []) if isinstance(state, dict) else state
    last = messages[-1] if messages else None
    calls = getattr(last, "tool_calls", None) if isinstance(last, AIMessage) else None
    if not calls:
        return "__end__"
    return [
        Send(
            tools_node,
            {
                "__type": "tool_call_with_context",
                "tool_call": {**tc, "type": "tool_call"},
                "state": state,
            },
        )
        for tc in calls
    ]


def governed_subgraph(
    graph: Any,
    name: str,
    gate: PolicyGate | None = None,
    *,
    context: ContextSource = None,
    requested_capabilities: Sequence[str] = (),
    messages_key: str = "messages",
) -> tuple[Callable[[Any], Any], Callable[[Any], Awaitable[Any]]]:
    """Node functions ``(sync, async)`` that run compiled sub-graph ``graph`` as child agent
    ``name`` only if the policy allows spawning it (event ``agent.spawn``). A denied spawn adds
    an AI message with the reason instead of running the sub-graph. Use the pair with
    ``RunnableCallable(sync, async)`` or pick the one matching how the parent graph runs."""
    from langchain_core.messages import AIMessage as _AI

    if gate is None:
        from kitelogik.governed import _default_gate

        gate = _default_gate()
    g: PolicyGate = gate

    def event(state: Any) -> GovernanceEvent:
        return adapters.spawn_event(
            name,
            {},
            context=context,
            framework=FRAMEWORK,
            requested_capabilities=requested_capabilities,
        )

    def deny(text: str, _: Decision) -> dict[str, list[AnyMessage]]:
        return {messages_key: [_AI(content=text, name=name)]}

    def node(state: Any) -> Any:
        return adapters.govern(g, event(state), lambda _: graph.invoke(state), deny)

    async def anode(state: Any) -> Any:
        async def run(_: dict[str, Any]) -> Any:
            return await graph.ainvoke(state)

        return await adapters.agovern(g, event(state), run, deny)

    return node, anode
