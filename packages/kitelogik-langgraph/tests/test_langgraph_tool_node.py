"""LangGraph-specific behaviour of the governed ToolNode (the kit covers the shared promises):
adversarial resumes, tool facts, sub-graph spawns, and the async-only bypass it prevents."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from kitelogik.adapters import approval_answer
from kitelogik.gate import PolicyGate
from kitelogik.protocols import ApprovalResult
from kitelogik.testing.fakes import RecordingAudit, SideEffectLog, kit_engine
from kitelogik.testing.scenarios import Call, Turn, make_tools
from kitelogik_langgraph import GovernedToolNode, governed_subgraph, send_tool_calls
from kitelogik_langgraph.testing import ScriptedChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import StructuredTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import Command

TRANSFER = [Turn(calls=(Call("transfer", {"amount": 5, "to": "bob"}, "c1"),)), Turn(text="ok")]


def setup(script: list[Turn], checkpointer: Any = None) -> tuple[Any, ...]:
    effects = SideEffectLog()
    audit = RecordingAudit()
    gate = PolicyGate(kit_engine(), audit=audit)
    tools = [
        StructuredTool.from_function(
            func=t.fn, coroutine=t.afn, name=t.name, description=t.description
        )
        for t in make_tools(effects)
    ]
    model = ScriptedChatModel.from_turns(script)
    cp = checkpointer or InMemorySaver()

    def graph_with(node: Any) -> Any:
        b = StateGraph(MessagesState)
        b.add_node("agent", lambda s: {"messages": [model.invoke(s["messages"])]})
        b.add_node("tools", node)
        b.add_edge(START, "agent")
        b.add_conditional_edges("agent", send_tool_calls, ["tools", END])
        b.add_edge("tools", "agent")
        return b.compile(checkpointer=cp)

    return effects, audit, gate, tools, model, graph_with


def test_both_hooks_always_set() -> None:
    _, _, gate, tools, _, _ = setup(TRANSFER)
    node = GovernedToolNode(tools, gate)
    assert node._wrap_tool_call is not None
    assert node._awrap_tool_call is not None
    with pytest.raises(TypeError, match="awrap_tool_call"):
        GovernedToolNode(tools, gate, awrap_tool_call=lambda r, e: e(r))


def test_async_only_wrapper_is_the_bypass_we_prevent() -> None:
    """Why both hooks matter: LangGraph runs a ToolNode with only an async wrapper ungoverned
    under invoke. If this ever stops being true, the warning in the README can go."""
    effects, _, gate, tools, _, graph_with = setup(
        [Turn(calls=(Call("delete_record", {"record_id": "r"}, "c1"),)), Turn(text="ok")]
    )
    from kitelogik_langgraph import KitelogikToolWrapper

    w = KitelogikToolWrapper(gate)
    graph = graph_with(ToolNode(tools, awrap_tool_call=w.awrap_tool_call))
    graph.invoke({"messages": [HumanMessage("go")]}, {"configurable": {"thread_id": "t"}})
    assert effects.of("delete_record") == [{"record_id": "r"}]  # bypassed
    effects2, _, gate2, tools2, _, graph_with2 = setup(
        [Turn(calls=(Call("delete_record", {"record_id": "r"}, "c1"),)), Turn(text="ok")]
    )
    graph2 = graph_with2(GovernedToolNode(tools2, gate2))
    graph2.invoke({"messages": [HumanMessage("go")]}, {"configurable": {"thread_id": "t"}})
    assert effects2.calls == []


@pytest.mark.parametrize("answer", [True, "approve", {"approved": True}, {"kitelogik": "x"}])
def test_bare_resume_value_never_approves(answer: Any) -> None:
    effects, audit, gate, tools, model, graph_with = setup(TRANSFER)
    graph = graph_with(GovernedToolNode(tools, gate))
    cfg = {"configurable": {"thread_id": str(uuid.uuid4())}}
    r = graph.invoke({"messages": [HumanMessage("go")]}, cfg)
    assert r["__interrupt__"][0].value["action"] == "transfer"
    r = graph.invoke(Command(resume=answer), cfg)
    assert effects.calls == []
    assert "malformed approval answer" in model.seen()["c1"]
    assert len(audit.decisions) == 1


def test_approval_from_before_a_restart_is_not_reused() -> None:
    """A new process (new ToolNode, same checkpoint) decides the call again; an answer bound to
    the old decision does not approve the new one."""
    cp = InMemorySaver()
    effects, audit, gate, tools, model, graph_with = setup(TRANSFER, cp)
    cfg = {"configurable": {"thread_id": str(uuid.uuid4())}}
    r = graph_with(GovernedToolNode(tools, gate)).invoke({"messages": [HumanMessage("go")]}, cfg)
    request = r["__interrupt__"][0].value
    answer = approval_answer(
        ApprovalResult(True, "ok", ("alice",), None, request["binding_digest"], "approved")
    )
    restarted = graph_with(GovernedToolNode(tools, gate))
    restarted.invoke(Command(resume=answer), cfg)
    assert effects.calls == []
    assert "not bound to this exact call" in model.seen()["c1"]
    assert len(audit.decisions) == 2  # decided again after the restart, audited again


def test_interrupt_without_checkpointer_stops_without_running() -> None:
    """Without a checkpointer the run cannot be resumed: it stops at the escalation (the pending
    request is reported) and the tool never runs."""
    effects, _, gate, tools, model, _ = setup(TRANSFER)
    b = StateGraph(MessagesState)
    b.add_node("agent", lambda s: {"messages": [model.invoke(s["messages"])]})
    b.add_node("tools", GovernedToolNode(tools, gate))
    b.add_edge(START, "agent")
    b.add_conditional_edges("agent", send_tool_calls, ["tools", END])
    b.add_edge("tools", "agent")
    r = b.compile().invoke({"messages": [HumanMessage("go")]})
    assert r["__interrupt__"][0].value["kitelogik"] == "approval_request"
    assert effects.calls == []
    assert model.seen() == {}


def test_tool_facts_reach_the_policy_input() -> None:
    _, audit, gate, tools, _, graph_with = setup(
        [Turn(calls=(Call("lookup", {"key": "a"}, "c1"),)), Turn(text="ok")]
    )
    tools[0].metadata = {"kitelogik": {"risk_tier": "informational", "external": False}}
    node = GovernedToolNode(tools, gate, tool_facts={"lookup": {"labels": {"team": "x"}}})
    graph_with(node).invoke(
        {"messages": [HumanMessage("go")]}, {"configurable": {"thread_id": "t"}}
    )
    doc = audit.decisions[0].input
    assert doc is not None
    assert doc["tool"] == {"risk_tier": "informational", "external": False, "labels": {"team": "x"}}
    assert doc["context"]["framework"] == "langgraph"


def test_send_tool_calls_routes_each_call() -> None:
    assert send_tool_calls({"messages": [AIMessage("hi")]}) == "__end__"
    msg = AIMessage(
        "", tool_calls=[{"name": "a", "args": {}, "id": "1"}, {"name": "b", "args": {}, "id": "2"}]
    )
    sends = send_tool_calls({"messages": [msg]})
    assert [s.arg["tool_call"]["id"] for s in sends] == ["1", "2"]
    assert all(s.node == "tools" for s in sends)


@pytest.mark.parametrize("child", ["researcher", "rogue"])
def test_subgraph_spawn_is_governed(child: str) -> None:
    audit = RecordingAudit()
    gate = PolicyGate(kit_engine(), audit=audit)
    ran: list[str] = []

    sub = StateGraph(MessagesState)
    sub.add_node("work", lambda s: ran.append(child) or {"messages": [AIMessage("sub done")]})
    sub.add_edge(START, "work")
    compiled = sub.compile()
    node, anode = governed_subgraph(compiled, child, gate)

    for is_async in (False, True):
        ran.clear()
        parent = StateGraph(MessagesState)
        parent.add_node("child", anode if is_async else node)
        parent.add_edge(START, "child")
        g = parent.compile()
        inp = {"messages": [HumanMessage("go")]}
        out = asyncio.run(g.ainvoke(inp)) if is_async else g.invoke(inp)
        if child == "researcher":
            assert ran == [child]
            assert out["messages"][-1].content == "sub done"
        else:
            assert ran == []
            assert "[kitelogik] DENIED rogue" in out["messages"][-1].content
    assert [d.event_type for d in audit.decisions] == ["agent.spawn", "agent.spawn"]


def test_tool_node_inside_a_running_governed_call_does_not_decide_again() -> None:
    """A graph run from inside a governed call (here: a ToolNode invoked directly inside
    gate.invoke of the same call) reuses the running decision instead of deciding twice."""
    from kitelogik.adapters import tool_call_event
    from langgraph.prebuilt.tool_node import ToolCallRequest

    effects, audit, gate, tools, _, _ = setup(TRANSFER)
    node = GovernedToolNode(tools, gate)
    outer = gate.check(tool_call_event("lookup", {"key": "a"}, framework="outer"))
    assert outer.allowed
    req = ToolCallRequest(
        tool_call={"name": "lookup", "args": {"key": "a"}, "id": "c1", "type": "tool_call"},
        tool=tools[0],
        state={},
        runtime=None,  # type: ignore[arg-type]
    )

    def inner(**_: object) -> object:
        return node.kitelogik.wrap_tool_call(req, lambda r: tools[0].invoke(r.tool_call["args"]))

    assert gate.invoke(outer, inner) == "value-of-a"
    assert len(audit.decisions) == 1
    assert effects.calls == [("lookup", {"key": "a"})]
