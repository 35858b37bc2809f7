"""A LlamaIndex FunctionAgent whose every tool call is decided by Kite Logik first.

    .venvs/llama-index/bin/python examples/llama-index/agent.py
    (scripts/plugin-env.sh llama-index builds that environment)

Offline by default: a scripted model asks for an order and for /etc/passwd in one turn (the
order is allowed; /etc/passwd is denied and the model gets the reason as the tool result), then
for a refund (escalated: the workflow pauses with an InputRequiredEvent, a reviewer approves
this exact call with a HumanResponseEvent, the step replays and the refund runs once). With
OPENAI_API_KEY set and llama-index-llms-openai installed, a real model drives the same agent.
"""

from __future__ import annotations

import asyncio
import os
import uuid

from kitelogik import PolicyGate, SessionContext
from kitelogik.protocols import ApprovalResult
from kitelogik.testing.scenarios import Call, Turn
from kitelogik_llama_index import approval_response, govern_tools
from kitelogik_llama_index.testing import ScriptedLLM
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.workflow import InputRequiredEvent


def get_order(order_id: str) -> str:
    """Look up an order."""
    return f"order {order_id}: 1 x teapot, 25.00 EUR, delivered"


def read_file(path: str) -> str:
    """Read a file from the shop's server."""
    return f"(contents of {path})"


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


def make_llm():
    if os.environ.get("OPENAI_API_KEY"):
        try:
            from llama_index.llms.openai import OpenAI

            return OpenAI(model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"))
        except ImportError:
            print("(llama-index-llms-openai is not installed: using the scripted model)")
    return ScriptedLLM(SCRIPT).llm


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


async def main() -> None:
    gate = PolicyGate()  # shipped policies (+ ./policies if present), audit log in ./.kitelogik
    session = SessionContext(
        session_id=f"example-{uuid.uuid4()}",
        agent_id="support-bot",
        user_role="support",
        session_scopes=("fs:read",),
    )
    tools = govern_tools(
        [get_order, read_file, refund], gate, context=session, tool_facts=TOOL_FACTS
    )
    agent = FunctionAgent(tools=tools, llm=make_llm(), system_prompt="Help with orders.")
    handler = agent.run(user_msg="Please refund order A-1001.")
    async for ev in handler.stream_events():
        if isinstance(ev, InputRequiredEvent) and ev.get("kitelogik"):
            handler.ctx.send_event(approval_response(ev, reviewer(ev.get("kitelogik"))))
        elif isinstance(ev, ToolCallResult):
            print(f"     tool: {ev.tool_output.content}")
    print(f"assistant: {await handler}")


if __name__ == "__main__":
    asyncio.run(main())
