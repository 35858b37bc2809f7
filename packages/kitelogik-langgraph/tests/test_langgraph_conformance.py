"""The adapter conformance kit, run through LangGraph's real graph loop (StateGraph + the
governed ToolNode + a scripted chat model), sync and async, with both escalation styles."""

from __future__ import annotations

import uuid
from typing import Any

from kitelogik.adapters import approval_answer
from kitelogik.testing.conformance import AdapterConformance, Harness, Transcript
from kitelogik_langgraph import GovernedToolNode, send_tool_calls
from kitelogik_langgraph.testing import ScriptedChatModel
from langchain_core.messages import HumanMessage
from langchain_core.tools import StructuredTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import Command


def lc_tools(h: Harness) -> list[StructuredTool]:
    return [
        StructuredTool.from_function(
            func=t.fn, coroutine=t.afn, name=t.name, description=t.description
        )
        for t in h.tools
    ]


def build(h: Harness, model: ScriptedChatModel, *, is_async: bool) -> Any:
    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    async def aagent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", aagent if is_async else agent)
    builder.add_node("tools", GovernedToolNode(lc_tools(h), h.gate, context=h.context))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", send_tool_calls, ["tools", END])
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=InMemorySaver())


def _resume(h: Harness, result: Any) -> Command | None:
    interrupts = result.get("__interrupt__") if isinstance(result, dict) else None
    if not interrupts:
        return None
    return Command(resume={i.id: approval_answer(h.approve(i.value)) for i in interrupts})


class _LangGraph(AdapterConformance):
    def run(self, h: Harness) -> Transcript:
        model = ScriptedChatModel.from_turns(h.script)
        graph = build(h, model, is_async=False)
        cfg = {"configurable": {"thread_id": str(uuid.uuid4())}}
        result = graph.invoke({"messages": [HumanMessage("go")]}, cfg)
        while (cmd := _resume(h, result)) is not None:
            result = graph.invoke(cmd, cfg)
        return Transcript(seen=model.seen(), final=result["messages"][-1].content)

    async def arun(self, h: Harness) -> Transcript:
        model = ScriptedChatModel.from_turns(h.script)
        graph = build(h, model, is_async=True)
        cfg = {"configurable": {"thread_id": str(uuid.uuid4())}}
        result = await graph.ainvoke({"messages": [HumanMessage("go")]}, cfg)
        while (cmd := _resume(h, result)) is not None:
            result = await graph.ainvoke(cmd, cfg)
        return Transcript(seen=model.seen(), final=result["messages"][-1].content)


class TestLangGraphInterruptConformance(_LangGraph):
    """Escalation by LangGraph interrupt() and Command(resume=...)."""

    approval_style = "interrupt"


class TestLangGraphApproverConformance(_LangGraph):
    """Escalation waiting for the gate's approver inside the tool call."""

    approval_style = "inline"
