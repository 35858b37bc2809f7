"""LangChain-specific behaviour (the kit covers the shared promises)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from kitelogik.gate import PolicyGate
from kitelogik.testing.fakes import RecordingAudit, ScriptedApprover, SideEffectLog, kit_engine
from kitelogik.testing.scenarios import Call, Turn, make_tools
from kitelogik_langchain import KitelogikMiddleware, govern_tools
from kitelogik_langgraph.testing import ScriptedChatModel
from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import HumanMessage
from langchain_core.tools import StructuredTool
from langgraph.checkpoint.memory import InMemorySaver


def lc_tools(effects: SideEffectLog) -> list[StructuredTool]:
    return [
        StructuredTool.from_function(
            func=t.fn, coroutine=t.afn, name=t.name, description=t.description
        )
        for t in make_tools(effects)
    ]


def test_middleware_implements_both_hooks() -> None:
    assert KitelogikMiddleware.wrap_tool_call is not AgentMiddleware.wrap_tool_call
    assert KitelogikMiddleware.awrap_tool_call is not AgentMiddleware.awrap_tool_call
    with pytest.raises(ValueError, match="escalation"):
        KitelogikMiddleware(PolicyGate(kit_engine(), audit=None), escalation="maybe")  # type: ignore[arg-type]


def test_escalation_mode_can_force_interrupt_even_with_an_approver() -> None:
    effects = SideEffectLog()
    approver = ScriptedApprover(["approve"])
    gate = PolicyGate(kit_engine(), audit=RecordingAudit(), approver=approver)
    model = ScriptedChatModel.from_turns(
        [Turn(calls=(Call("transfer", {"amount": 1, "to": "x"}, "c1"),)), Turn(text="ok")]
    )
    agent = create_agent(
        model,
        tools=lc_tools(effects),
        middleware=[KitelogikMiddleware(gate, escalation="interrupt")],
        checkpointer=InMemorySaver(),
    )
    cfg = {"configurable": {"thread_id": str(uuid.uuid4())}}
    r = agent.invoke({"messages": [HumanMessage("go")]}, cfg)
    assert r["__interrupt__"][0].value["action"] == "transfer"
    assert approver.requests == []  # the gate's approver was not used
    assert effects.calls == []


def test_governed_plain_tools_refuse_outside_an_agent() -> None:
    effects = SideEffectLog()
    audit = RecordingAudit()
    gate = PolicyGate(kit_engine(), audit=audit)
    lookup = govern_tools(lc_tools(effects), gate)[0]
    assert lookup.name == "lookup"
    assert lookup.invoke({"key": "a"}) == "value-of-a"
    denied = lookup.invoke({"key": "secret"})
    assert denied.startswith("[kitelogik] DENIED lookup: kit: the key 'secret' may not be looked")
    assert asyncio.run(lookup.ainvoke({"key": "b"})) == "value-of-b"
    assert effects.calls == [("lookup", {"key": "a"}), ("lookup", {"key": "b"})]
    assert [d.verdict for d in audit.decisions] == ["allow", "deny", "allow"]
    assert {d.input["context"]["framework"] for d in audit.decisions if d.input} == {"langchain"}
