"""Policy before every tool call of a LangChain v1 agent (``create_agent``).

The native hook is ``AgentMiddleware.wrap_tool_call`` / ``awrap_tool_call``; ``create_agent``
turns them into the hooks of the LangGraph ``ToolNode`` it builds, so the decision logic is the
one in :class:`kitelogik_langgraph.KitelogikToolWrapper`. Both methods are always implemented:
a middleware with only the sync one fails under ``ainvoke``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from kitelogik import adapters
from kitelogik.adapters import ContextSource
from kitelogik.decision import Decision
from kitelogik.gate import PolicyGate
from kitelogik_langgraph import KitelogikToolWrapper
from kitelogik_langgraph.tool_node import Escalation
from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.types import Command

__all__ = ["KitelogikMiddleware", "govern_tools"]

FRAMEWORK = "langchain"


class KitelogikMiddleware(AgentMiddleware):
    """Decides every tool call of the agent before it runs.

    ``create_agent(model, tools, middleware=[KitelogikMiddleware(gate)])``

    Allowed calls run with exactly the decided arguments; a denied call never runs and the model
    receives ``ToolMessage(status="error")`` with the reason. An escalation waits for the gate's
    approver, or -- when the gate has none (or ``escalation="interrupt"``) -- pauses the run with
    a LangGraph interrupt carrying the approval request (``create_agent(...,
    checkpointer=...)`` and a ``thread_id`` needed); resume with
    ``Command(resume=kitelogik.adapters.approval_answer(result))``.
    """

    def __init__(
        self,
        gate: PolicyGate | None = None,
        *,
        context: ContextSource = None,
        escalation: Escalation = "auto",
        tools: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.wrapper = KitelogikToolWrapper(
            gate, context=context, escalation=escalation, tools=tools, framework=FRAMEWORK
        )

    @property
    def gate(self) -> PolicyGate:
        return self.wrapper.gate

    def wrap_tool_call(
        self, request: Any, handler: Callable[[Any], ToolMessage | Command]
    ) -> ToolMessage | Command:
        return self.wrapper.wrap_tool_call(request, handler)

    async def awrap_tool_call(
        self, request: Any, handler: Callable[[Any], Awaitable[ToolMessage | Command]]
    ) -> ToolMessage | Command:
        return await self.wrapper.awrap_tool_call(request, handler)


def govern_tools(
    tools: Sequence[BaseTool],
    gate: PolicyGate | None = None,
    *,
    context: ContextSource = None,
    tool_facts: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[BaseTool]:
    """Governed copies of plain LangChain tools, for code that calls tools outside an agent
    with middleware (chains, custom loops, other frameworks accepting LangChain tools).

    Each call is decided first; a refused call returns the denial text (and never runs).
    Escalations wait for the gate's approver (no approver: deny)."""
    if gate is None:
        from kitelogik.governed import _default_gate

        gate = _default_gate()
    g: PolicyGate = gate
    facts = {k: dict(v) for k, v in (tool_facts or {}).items()}

    def wrap(tool: BaseTool) -> BaseTool:
        def event(kwargs: dict[str, Any]) -> Any:
            return adapters.tool_call_event(
                tool.name, kwargs, context=context, framework=FRAMEWORK, tool=facts.get(tool.name)
            )

        def deny(text: str, _: Decision) -> str:
            return text

        def func(**kwargs: Any) -> Any:
            return adapters.govern(g, event(kwargs), tool.invoke, deny)

        async def coroutine(**kwargs: Any) -> Any:
            return await adapters.agovern(g, event(kwargs), tool.ainvoke, deny)

        return StructuredTool(
            name=tool.name,
            description=tool.description,
            args_schema=tool.args_schema
            if tool.args_schema is not None
            else tool.get_input_schema(),
            func=func,
            coroutine=coroutine,
            metadata=tool.metadata,
            tags=tool.tags,
        )

    return [wrap(t) for t in tools]
