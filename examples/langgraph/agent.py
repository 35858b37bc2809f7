"""A LangGraph support agent whose every tool call is decided by Kite Logik before it runs.

    .venvs/langgraph/bin/python examples/langgraph/agent.py      (scripts/plugin-env.sh langgraph)

Offline by default: a scripted model asks for an order (allowed), /etc/passwd (denied: the model
gets the reason as the tool result) and a refund (escalated: the run pauses with a LangGraph
interrupt, a reviewer approves the exact call, the run resumes and the refund runs once). With
OPENAI_API_KEY set and langchain-openai installed, a real model drives the same graph.
"""

from __future__ import annotations

import os
import uuid

from kitelogik import PolicyGate, SessionContext
from kitelogik.adapters import approval_answer
from kitelogik.protocols import ApprovalResult
from kitelogik.testing.scenarios import Call, Turn
from kitelogik_langgraph import GovernedToolNode, send_tool_calls
from kitelogik_langgraph.testing import ScriptedChatModel
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import Command


@tool
def get_order(order_id: str) -> str:
    """Look up an order."""
    return f"order {order_id}: 1 x teapot, 25.00 EUR, delivered"


@tool
def read_file(path: str) -> str:
    """Read a file from the shop's server."""
    return f"(contents of {path})"


@tool
def refund(order_id: str, amount: float) -> str:
    """Refund an order."""
    print(f"  >> refund of {amount:.2f} for {order_id} executed")
    return f"refunded {amount:.2f} for {order_id}"


# Facts about the tools, registered by the host (never by the model): their risk tiers.
TOOL_FACTS = {
    "get_order": {"risk_tier": "informational"},
    "refund": {"risk_tier": "transactional_high", "external": True},
}

SCRIPT = [
    Turn(
        calls=(
            Call("get_order", {"order_id": "A-1001"}, "call_1"),
            Call("read_file", {"path": "/etc/passwd"}, "call_2"),
        )
    ),
    Turn(calls=(Call("refund", {"order_id": "A-1001", "amount": 25.0}, "call_3"),)),
    Turn(text="Your order A-1001 has been refunded."),
]


def make_model():
    if os.environ.get("OPENAI_API_KEY"):
        try:
            from langchain.chat_models import init_chat_model

            model_name = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
            return init_chat_model(f"openai:{model_name}").bind_tools(
                [get_order, read_file, refund]
            )
        except ImportError:
            print("(langchain-openai is not installed: using the scripted model)")
    return ScriptedChatModel.from_turns(SCRIPT)


def build(gate: PolicyGate, session: SessionContext):
    model = make_model()

    def agent(state: MessagesState):
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node(
        "tools",
        GovernedToolNode(
            [get_order, read_file, refund], gate, context=session, tool_facts=TOOL_FACTS
        ),
    )
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", send_tool_calls, ["tools", END])
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=InMemorySaver())


def reviewer(request: dict) -> ApprovalResult:
    """Stands in for a human: approves refunds up to 50, bound to the exact call shown."""
    ok = request["action"] == "refund" and request["args"]["amount"] <= 50
    print(
        f"  reviewer sees {request['action']}({request['args']}): {'approve' if ok else 'reject'}"
    )
    return ApprovalResult(
        ok,
        "within the refund limit" if ok else "over the limit",
        approvers=("alice",),
        digest=request["binding_digest"] if ok else None,
    )


def main() -> None:
    gate = PolicyGate()  # shipped policies (+ ./policies if present), audit log in ./.kitelogik
    session = SessionContext(
        session_id=f"example-{uuid.uuid4()}",
        agent_id="support-bot",
        user_role="support",
        session_scopes=("fs:read",),
    )
    graph = build(gate, session)
    cfg = {"configurable": {"thread_id": session.session_id}}
    result = graph.invoke({"messages": [HumanMessage("Please refund order A-1001.")]}, cfg)
    while result.get("__interrupt__"):
        answers = {i.id: approval_answer(reviewer(i.value)) for i in result["__interrupt__"]}
        result = graph.invoke(Command(resume=answers), cfg)
    for m in result["messages"]:
        print(f"{m.type:>5}: {m.content}")


if __name__ == "__main__":
    main()
