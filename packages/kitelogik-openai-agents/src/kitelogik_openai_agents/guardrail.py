"""Policy before every tool call, handoff and agent-as-tool of an OpenAI Agents SDK agent.

The SDK's native hooks, all used here (see ``KitelogikGuardrail``):

* ``FunctionTool.tool_input_guardrails``: the SDK runs a tool's input guardrails one after the
  other, before ``on_tool_start`` and before the tool body (there is no parallel mode for tool
  guardrails, unlike agent input guardrails' ``run_in_parallel``). A refusal is
  ``ToolGuardrailFunctionOutput.reject_content(reason)``: the model receives the reason as the
  call's ``function_call_output`` and the run goes on.
* ``FunctionTool.on_invoke_tool``: wrapped so the body runs inside ``PolicyGate.ainvoke`` with
  exactly the decided arguments (outcome audited, nested enforcement points reuse the decision).
* ``FunctionTool.needs_approval`` and ``RunState.approve`` / ``reject``: an escalated call pauses
  the run (``result.interruptions``); only an answer bound to the decision's digest approves it.
* ``Handoff.on_invoke_handoff``: a handoff is decided as ``agent.delegate``; a refused handoff
  keeps the current agent and the model receives the reason as the handoff call's result.
* Agents exposed with ``Agent.as_tool()`` are decided as ``agent.spawn`` (action: the child
  agent's name).
"""

from __future__ import annotations

import contextvars
import dataclasses
import json
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

from agents import (
    Agent,
    FunctionTool,
    Handoff,
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
    ToolInputGuardrailData,
)
from agents import handoff as make_handoff
from agents.tool_context import ToolContext
from kitelogik import adapters
from kitelogik.adapters import ContextSource
from kitelogik.decision import Decision
from kitelogik.events import GovernanceEvent, SessionContext
from kitelogik.gate import PolicyGate

__all__ = ["KitelogikGuardrail", "govern"]

FRAMEWORK = "openai-agents"
Escalation = Literal["auto", "approver", "interrupt"]
#: Decided calls kept for their next stage. A forgotten call is decided again (and an escalation
#: without its pending decision is refused), so the bound only costs decisions, never safety.
MAX_PENDING = 10_000

#: The denial text of a handoff refused in the current task, read by the same handoff's
#: ``get_transfer_message`` right after ``on_invoke_handoff`` returns (same task, same context).
_HANDOFF_DENIAL: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "kitelogik_handoff_denial", default=None
)


#: A decided call waiting for its next stage: (tool name, the model's arguments, event, decision).
_Entry = tuple[str, dict[str, Any], GovernanceEvent, Decision]


def _reject(text: str, decision: Decision | None = None) -> ToolGuardrailFunctionOutput:
    info = {"kitelogik": "deny", "decision_id": decision.id if decision else None}
    return ToolGuardrailFunctionOutput.reject_content(text, output_info=info)


class KitelogikGuardrail:
    """Kite Logik for the OpenAI Agents SDK: a tool input guardrail that decides every call.

    ``govern(agent)`` returns a governed clone of ``agent`` (the original is not changed): every
    ``FunctionTool`` gets the guardrail (plus the ``on_invoke_tool`` and ``needs_approval``
    wrappers), every handoff is decided as ``agent.delegate``, and handoff targets are governed
    the same way when a handoff hands them the run. Tools that are agents (``Agent.as_tool``)
    are decided as ``agent.spawn``; govern the child agent itself before calling ``as_tool`` so
    its own tools are governed too. Hosted tools (web search, code interpreter) run on the
    server and have no local hook.

    * allow: the tool body runs with exactly the decided arguments, inside
      :meth:`PolicyGate.ainvoke`;
    * deny: the model receives ``[kitelogik] DENIED <tool>: <reason>`` as the call's result;
      the body never runs;
    * escalate: ``approver`` waits for the gate's approver inside the call; ``interrupt``
      pauses the run through ``needs_approval`` (``result.interruptions``). Show
      :meth:`approval_request` to a human and settle each item with :meth:`resolve` (which
      calls ``state.approve`` / ``state.reject``), then ``Runner.run(agent, state)``. ``auto``
      (default) uses the approver when the gate has one, else interrupts. Handoffs escalate
      through the approver only (an escalated handoff without one is refused).

    ``tools`` holds facts about tools for the policy (``{"send_email": {"external": True}}``);
    an agent-as-tool's ``{"capabilities": [...]}`` become the spawn's requested capabilities.
    Pending decisions are kept in this object (in memory): resume a paused run in the same
    process, with the same ``KitelogikGuardrail``.
    """

    def __init__(
        self,
        gate: PolicyGate | None = None,
        *,
        context: ContextSource = None,
        escalation: Escalation = "auto",
        tools: Mapping[str, Mapping[str, Any]] | None = None,
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
        #: (session id, call id) -> entry: decided, not yet run or refused. An entry is only used
        #: for the very same tool and arguments.
        self._calls: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()
        self._governed: dict[int, tuple[Agent[Any], Agent[Any]]] = {}
        #: A guardrail deciding by tool name alone, for ``tool_input_guardrails=[...]`` of a tool
        #: you build yourself. Prefer :meth:`govern` / :meth:`tool`, which also run the body
        #: inside the gate (outcome audit, decided arguments) and pause for approvals.
        self.guardrail: ToolInputGuardrail[Any] = ToolInputGuardrail(
            guardrail_function=self._check_by_name, name="kitelogik"
        )

    # ------------------------------------------------------------------ pieces

    @property
    def interrupts(self) -> bool:
        if self.escalation == "auto":
            return self.gate.approver is None
        return self.escalation == "interrupt"

    def _event(self, tool: FunctionTool | None, name: str, args: Mapping[str, Any]) -> Any:
        facts = dict(self.tool_facts.get(name) or {})
        child = getattr(tool, "_agent_instance", None) if tool is not None else None
        if child is not None and getattr(tool, "_is_agent_tool", False):
            caps = facts.get("capabilities") or ()
            return adapters.spawn_event(
                str(child.name),
                args,
                context=self.context,
                framework=FRAMEWORK,
                requested_capabilities=tuple(str(c) for c in caps),
            )
        return adapters.tool_call_event(
            name, args, context=self.context, framework=FRAMEWORK, tool=facts or None
        )

    def _key(self, call_id: str | None) -> tuple[str, str]:
        session = adapters.resolve_context(self.context, FRAMEWORK).session_id
        return (session, call_id or "")

    def _get(
        self, key: tuple[str, str], name: str, args: dict[str, Any], *, pop: bool = False
    ) -> tuple[GovernanceEvent, Decision] | None:
        with self._lock:
            item = self._calls.get(key)
            if item is None or item[0] != name or item[1] != args:
                return None
            if pop:
                del self._calls[key]
        return item[2], item[3]

    def _put(
        self,
        key: tuple[str, str],
        name: str,
        args: dict[str, Any],
        event: GovernanceEvent,
        decision: Decision,
    ) -> None:
        with self._lock:
            self._calls[key] = (name, args, event, decision)
            while len(self._calls) > MAX_PENDING:  # runs abandoned mid-call: forget the oldest
                del self._calls[next(iter(self._calls))]

    def _drop(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._calls.pop(key, None)

    def pending(self) -> int:
        """Calls decided but not yet run or refused (e.g. paused for approval)."""
        with self._lock:
            return len(self._calls)

    # ------------------------------------------------------------------ tools

    def tool(self, tool: Any) -> Any:
        """A governed copy of ``tool`` (a ``FunctionTool``; anything else is returned as is)."""
        if not isinstance(tool, FunctionTool) or getattr(tool, "_kitelogik", None) is self:
            return tool
        changes: dict[str, Any] = {
            "tool_input_guardrails": [*(tool.tool_input_guardrails or []), self._guardrail(tool)],
            "on_invoke_tool": self._invoker(tool),
        }
        if self.interrupts:
            changes["needs_approval"] = self._needs_approval(tool)
        governed = dataclasses.replace(tool, **changes)
        governed._kitelogik = self  # type: ignore[attr-defined]
        return governed

    def _needs_approval(
        self, tool: FunctionTool
    ) -> Callable[[Any, dict[str, Any], str], Awaitable[bool]]:
        user = tool.needs_approval

        async def needs_approval(ctx: Any, params: dict[str, Any], call_id: str) -> bool:
            key = self._key(call_id)
            hit = self._get(key, tool.name, params)
            if hit is None:
                event = self._event(tool, tool.name, params)
                decision = await self.gate.acheck(event)
                self._put(key, tool.name, dict(params), event, decision)
            else:
                decision = hit[1]
            ours = decision.verdict == "escalate"
            if isinstance(user, bool):
                return ours or user
            theirs = user(ctx, params, call_id)
            if hasattr(theirs, "__await__"):
                theirs = await theirs
            return ours or bool(theirs)

        return needs_approval

    def _guardrail(self, tool: FunctionTool) -> ToolInputGuardrail[Any]:
        async def kitelogik(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
            tc = data.context
            try:
                args = adapters.parse_arguments(tc.tool_arguments)
            except adapters.ArgumentsError as exc:
                return _reject(adapters.error_message(tool.name, exc))
            key = self._key(tc.tool_call_id)
            hit = self._get(key, tool.name, args)
            if hit is None:
                # Not decided before (no pause for approvals): decide now; escalations wait for
                # the approver (without one an escalation is a deny).
                event = self._event(tool, tool.name, args)
                decision = await self.gate.aauthorize(event)
            else:
                event, decision = hit
                if decision.verdict == "escalate":
                    # The SDK is about to run a call kitelogik escalated, but no bound approval
                    # was recorded for it (approved with state.approve() instead of resolve()).
                    decision = await adapters.aresolve_approval(self.gate, decision, None)
            if not decision.allowed:
                self._drop(key)
                return _reject(adapters.denial_message(decision), decision)
            self._put(key, tool.name, args, event, decision)
            return ToolGuardrailFunctionOutput.allow(
                output_info={"kitelogik": "allow", "decision_id": decision.id}
            )

        return ToolInputGuardrail(guardrail_function=kitelogik, name="kitelogik")

    def _invoker(self, tool: FunctionTool) -> Callable[[Any, str], Awaitable[Any]]:
        original = tool.on_invoke_tool

        async def invoke(ctx: Any, input: str) -> Any:
            try:
                args = adapters.parse_arguments(input)
            except adapters.ArgumentsError as exc:
                return adapters.error_message(tool.name, exc)
            hit = self._get(self._key(getattr(ctx, "tool_call_id", "")), tool.name, args, pop=True)

            async def run(decided: dict[str, Any]) -> Any:
                raw = input if decided == args else json.dumps(decided)
                return await original(ctx, raw)

            if hit is None:
                # The guardrail did not decide this call (it was removed from the tool): decide
                # here, so the body still never runs ungoverned.
                event = self._event(tool, tool.name, args)
                return await adapters.agovern(self.gate, event, run, lambda text, _: text)
            decision = hit[1]
            if decision.verdict == "escalate":  # paused, then approved without a bound answer
                decision = await adapters.aresolve_approval(self.gate, decision, None)
            if not decision.allowed:
                return adapters.denial_message(decision)
            return await adapters.arun_allowed(self.gate, decision, run)

        # The SDK reads the invoker's first annotation on every call (get_type_hints) to pick
        # the context it passes: real objects, not strings, so nothing is compiled per call.
        invoke.__annotations__ = {"ctx": ToolContext, "input": str, "return": object}
        return invoke

    async def _check_by_name(self, data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
        tc = data.context
        try:
            args = adapters.parse_arguments(tc.tool_arguments)
        except adapters.ArgumentsError as exc:
            return _reject(adapters.error_message(tc.tool_name, exc))
        decision = await self.gate.aauthorize(self._event(None, tc.tool_name, args))
        if not decision.allowed:
            return _reject(adapters.denial_message(decision), decision)
        return ToolGuardrailFunctionOutput.allow(
            output_info={"kitelogik": "allow", "decision_id": decision.id}
        )

    # ------------------------------------------------------------------ agents and handoffs

    def govern(self, agent: Agent[Any]) -> Agent[Any]:
        """A governed clone of ``agent`` (see the class docstring). Idempotent."""
        if getattr(agent, "_kitelogik", None) is self:
            return agent
        hit = self._governed.get(id(agent))
        if hit is not None and hit[0] is agent:
            return hit[1]
        clone = agent.clone(tools=[self.tool(t) for t in agent.tools])
        clone._kitelogik = self  # type: ignore[attr-defined]
        if agent.mcp_servers:
            # MCP tools are listed and converted on every turn: govern them as they arrive.
            list_mcp_tools = clone.get_mcp_tools

            async def get_mcp_tools(run_context: Any) -> list[Any]:
                return [self.tool(t) for t in await list_mcp_tools(run_context)]

            object.__setattr__(clone, "get_mcp_tools", get_mcp_tools)
        self._governed[id(agent)] = (agent, clone)
        clone.handoffs = [
            self._handoff(h if isinstance(h, Handoff) else make_handoff(h), clone)
            for h in agent.handoffs
        ]
        return clone

    def _handoff(self, h: Handoff[Any, Any], source: Agent[Any]) -> Handoff[Any, Any]:
        if getattr(h, "_kitelogik", None) is self:
            return h
        original = h.on_invoke_handoff
        transfer_message = h.get_transfer_message

        async def on_invoke_handoff(ctx: Any, args_json: str) -> Any:
            _HANDOFF_DENIAL.set(None)
            try:
                args = adapters.parse_arguments(args_json)
            except adapters.ArgumentsError as exc:
                _HANDOFF_DENIAL.set(adapters.error_message(h.tool_name, exc))
                return source
            event = adapters.delegation_event(
                h.agent_name, args, context=self.context, framework=FRAMEWORK
            )
            decision = await self.gate.aauthorize(event)
            if not decision.allowed:
                # Stay with the current agent; the model reads the reason as the call's result.
                _HANDOFF_DENIAL.set(adapters.denial_message(decision))
                return source

            async def run(decided: dict[str, Any]) -> Any:
                return await original(ctx, args_json if decided == args else json.dumps(decided))

            target = await adapters.arun_allowed(self.gate, decision, run)
            return self.govern(target) if isinstance(target, Agent) else target

        def get_transfer_message(agent: Any) -> str:
            denial = _HANDOFF_DENIAL.get()
            if denial is not None:
                _HANDOFF_DENIAL.set(None)
                return denial
            return transfer_message(agent)

        governed = dataclasses.replace(h, on_invoke_handoff=on_invoke_handoff)
        if getattr(h, "_agent_ref", None) is not None:
            governed._agent_ref = h._agent_ref
        governed.get_transfer_message = get_transfer_message  # type: ignore[method-assign]
        governed._kitelogik = self  # type: ignore[attr-defined]
        return governed

    # ------------------------------------------------------------------ approvals

    def _pending_for(self, item: Any) -> tuple[tuple[str, str], Decision] | None:
        raw = getattr(item, "raw_item", None)
        call_id = getattr(item, "call_id", None) or getattr(raw, "call_id", None)
        if call_id is None and isinstance(raw, Mapping):
            call_id = raw.get("call_id")
        try:
            args = adapters.parse_arguments(getattr(item, "arguments", None))
        except adapters.ArgumentsError:
            return None
        with self._lock:
            for key, (_, entry_args, _, decision) in self._calls.items():
                if key[1] == call_id and decision.verdict == "escalate" and entry_args == args:
                    return key, decision
        return None

    def approval_request(self, item: Any) -> dict[str, Any] | None:
        """What a human is shown for an interruption (a ``ToolApprovalItem`` of
        ``result.interruptions``), or ``None`` if kitelogik did not escalate it. The answer
        must carry back its ``binding_digest`` (see :func:`kitelogik.adapters.approval_answer`).
        """
        found = self._pending_for(item)
        if found is None:
            return None
        (_, call_id), decision = found
        return adapters.approval_request(decision, call_id=call_id)

    def _settle(self, state: Any, item: Any, resolved: Decision | None, approved: bool) -> None:
        if resolved is None:
            if approved:
                state.approve(item)
            else:
                state.reject(item)
        elif resolved.allowed:
            state.approve(item)
        else:
            state.reject(item, rejection_message=adapters.denial_message(resolved))

    def resolve(self, state: Any, item: Any, answer: Any) -> Decision | None:
        """Settle interruption ``item`` of ``state`` (a ``RunState``) with a human's ``answer``
        (an :class:`~kitelogik.protocols.ApprovalResult` or
        :func:`~kitelogik.adapters.approval_answer` mapping). Only an answer bound to this exact
        call approves it (``state.approve``); anything else rejects it (``state.reject``) and the
        model receives the reason. Returns the resolved decision (``None`` for an item kitelogik
        did not escalate, which is approved or rejected as the answer says)."""
        found = self._pending_for(item)
        if found is None:
            self._settle(state, item, None, bool(adapters._as_result(answer).approved))
            return None
        key, decision = found
        resolved = adapters.resolve_approval(self.gate, decision, answer)
        self._record(key, decision, resolved)
        self._settle(state, item, resolved, resolved.allowed)
        return resolved

    async def aresolve(self, state: Any, item: Any, answer: Any) -> Decision | None:
        """:meth:`resolve` with the outcome of a refusal recorded through the async path."""
        found = self._pending_for(item)
        if found is None:
            self._settle(state, item, None, bool(adapters._as_result(answer).approved))
            return None
        key, decision = found
        resolved = await adapters.aresolve_approval(self.gate, decision, answer)
        self._record(key, decision, resolved)
        self._settle(state, item, resolved, resolved.allowed)
        return resolved

    def _record(self, key: tuple[str, str], decision: Decision, resolved: Decision) -> None:
        with self._lock:
            item = self._calls.get(key)
            if item is None or item[3].id != decision.id:
                return
            if resolved.allowed:
                self._calls[key] = (item[0], item[1], item[2], resolved)
            else:
                del self._calls[key]


def govern(
    agent: Agent[Any],
    gate: PolicyGate | None = None,
    *,
    context: ContextSource = None,
    escalation: Escalation = "auto",
    tools: Mapping[str, Mapping[str, Any]] | None = None,
) -> Agent[Any]:
    """``KitelogikGuardrail(gate, ...).govern(agent)``: a governed clone of ``agent``. The
    guardrail is reachable as ``governed.kitelogik`` (for :meth:`KitelogikGuardrail.resolve`)."""
    guard = KitelogikGuardrail(gate, context=context, escalation=escalation, tools=tools)
    governed = guard.govern(agent)
    governed.kitelogik = guard  # type: ignore[attr-defined]
    return governed
