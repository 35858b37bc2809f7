"""The adapter conformance kit, run through LangChain v1's real agent loop (create_agent with a
scripted chat model), sync and async: the middleware with both escalation styles, and
govern_tools for plain tool lists."""

from __future__ import annotations

import uuid
from typing import Any

from kitelogik.adapters import approval_answer
from kitelogik.testing.conformance import AdapterConformance, Harness, Transcript
from kitelogik_langchain import KitelogikMiddleware, govern_tools
from kitelogik_langgraph.testing import ScriptedChatModel
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage
from langchain_core.tools import StructuredTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command


def lc_tools(h: Harness) -> list[StructuredTool]:
    return [
        StructuredTool.from_function(
            func=t.fn, coroutine=t.afn, name=t.name, description=t.description
        )
        for t in h.tools
    ]


def _resume(h: Harness, result: Any) -> Command | None:
    interrupts = result.get("__interrupt__") if isinstance(result, dict) else None
    if not interrupts:
        return None
    return Command(resume={i.id: approval_answer(h.approve(i.value)) for i in interrupts})


class _LangChain(AdapterConformance):
    def agent(self, h: Harness, model: ScriptedChatModel) -> Any:
        return create_agent(
            model,
            tools=lc_tools(h),
            middleware=[KitelogikMiddleware(h.gate, context=h.context)],
            checkpointer=InMemorySaver(),
        )

    def run(self, h: Harness) -> Transcript:
        model = ScriptedChatModel.from_turns(h.script)
        agent = self.agent(h, model)
        cfg = {"configurable": {"thread_id": str(uuid.uuid4())}}
        result = agent.invoke({"messages": [HumanMessage("go")]}, cfg)
        while (cmd := _resume(h, result)) is not None:
            result = agent.invoke(cmd, cfg)
        return Transcript(seen=model.seen(), final=result["messages"][-1].content)

    async def arun(self, h: Harness) -> Transcript:
        model = ScriptedChatModel.from_turns(h.script)
        agent = self.agent(h, model)
        cfg = {"configurable": {"thread_id": str(uuid.uuid4())}}
        result = await agent.ainvoke({"messages": [HumanMessage("go")]}, cfg)
        while (cmd := _resume(h, result)) is not None:
            result = await agent.ainvoke(cmd, cfg)
        return Transcript(seen=model.seen(), final=result["messages"][-1].content)


class TestLangChainInterruptConformance(_LangChain):
    """Escalation by LangGraph interrupt() and Command(resume=...)."""

    approval_style = "interrupt"


class TestLangChainApproverConformance(_LangChain):
    """Escalation waiting for the gate's approver inside the tool call."""

    approval_style = "inline"


class TestGovernToolsConformance(_LangChain):
    """Plain tool lists governed with govern_tools (no middleware)."""

    approval_style = "inline"

    def agent(self, h: Harness, model: ScriptedChatModel) -> Any:
        tools = govern_tools(lc_tools(h), h.gate, context=h.context)
        return create_agent(model, tools=tools, checkpointer=InMemorySaver())
