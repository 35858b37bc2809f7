"""A Semantic Kernel agent whose every function call is decided by Kite Logik first.

    .venvs/semantic-kernel/bin/python examples/semantic-kernel/agent.py
    (scripts/plugin-env.sh semantic-kernel builds that environment)

Offline by default: a scripted model asks for an order and for /etc/passwd in one turn (the
order is allowed; /etc/passwd is denied and the model gets the reason as the function result),
then for a refund (escalated: the filter waits for a reviewer who approves this exact call, and
the refund runs once). With OPENAI_API_KEY set, a real OpenAI model drives the same agent.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Annotated

from kitelogik import PolicyGate, SessionContext
from kitelogik.protocols import ApprovalResult
from kitelogik.testing.scenarios import Call, Turn
from kitelogik_semantic_kernel import KitelogikFilter
from kitelogik_semantic_kernel.testing import ScriptedChatCompletion
from semantic_kernel import Kernel
from semantic_kernel.agents import ChatCompletionAgent
from semantic_kernel.connectors.ai.function_choice_behavior import FunctionChoiceBehavior
from semantic_kernel.functions import kernel_function


class Shop:
    @kernel_function(description="Look up an order.")
    def get_order(self, order_id: Annotated[str, "the order id"]) -> str:
        return f"order {order_id}: 1 x teapot, 25.00 EUR, delivered"

    @kernel_function(description="Read a file from the shop's server.")
    def read_file(self, path: Annotated[str, "the file path"]) -> str:
        return f"(contents of {path})"

    @kernel_function(description="Refund an order.")
    def refund(self, order_id: str, amount: float) -> str:
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
            Call("shop-get_order", {"order_id": "A-1001"}, "call_1"),
            Call("shop-read_file", {"path": "/etc/passwd"}, "call_2"),
        )
    ),
    Turn(calls=(Call("shop-refund", {"order_id": "A-1001", "amount": 25.0}, "call_3"),)),
    Turn(text="Your order A-1001 has been refunded."),
]


class Reviewer:
    """Stands in for a human (an Approver): approves refunds up to 50, bound to the exact call."""

    def wait_for_approval(self, decision, event, timeout) -> ApprovalResult:
        args = dict(decision.args)
        ok = decision.action == "refund" and args["amount"] <= 50
        print(f"  reviewer sees {decision.action}({args}): {'approve' if ok else 'reject'}")
        return ApprovalResult(
            ok,
            "within the refund limit" if ok else "over the limit",
            approvers=("alice",),
            digest=decision.binding_digest if ok else None,
        )

    async def await_approval(self, decision, event, timeout) -> ApprovalResult:
        return self.wait_for_approval(decision, event, timeout)


def make_service():
    if os.environ.get("OPENAI_API_KEY"):
        from semantic_kernel.connectors.ai.open_ai import OpenAIChatCompletion

        return OpenAIChatCompletion(ai_model_id=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"))
    return ScriptedChatCompletion.from_turns(SCRIPT, plugin="shop")


async def main() -> None:
    # Shipped policies (+ ./policies if present), audit log in ./.kitelogik, a reviewer.
    gate = PolicyGate(approver=Reviewer())
    session = SessionContext(
        session_id=f"example-{uuid.uuid4()}",
        agent_id="support-bot",
        user_role="support",
        session_scopes=("fs:read",),
    )
    kernel = Kernel()
    kernel.add_service(make_service())
    kernel.add_plugin(Shop(), plugin_name="shop")
    KitelogikFilter(gate, context=session, tools=TOOL_FACTS).register(kernel)
    agent = ChatCompletionAgent(
        kernel=kernel,
        name="support",
        instructions="Help the customer with their order.",
        function_choice_behavior=FunctionChoiceBehavior.Auto(),
    )
    response = await agent.get_response(messages="Please refund order A-1001.")
    async for message in response.thread.get_messages():
        for item in message.items:
            text = getattr(item, "result", None) or getattr(item, "text", None)
            if text:
                print(f"{message.role.value:>9}: {text}")


if __name__ == "__main__":
    asyncio.run(main())
