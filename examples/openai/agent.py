"""Plain OpenAI tool calling (Chat Completions) where every call is decided by Kite Logik first.

    .venvs/openai/bin/python examples/openai/agent.py      (scripts/plugin-env.sh openai)

Offline by default: the real OpenAI client talks to a scripted model (an httpx transport), which
asks for an order (allowed), /etc/passwd (denied: the reason goes back as the tool message) and
a refund (escalated: the gate's approver -- here a rule standing in for a human -- approves the
exact call, then it runs). With OPENAI_API_KEY set, a real model is used.
"""

from __future__ import annotations

import os
import uuid

import httpx
from kitelogik import PolicyGate, SessionContext
from kitelogik.protocols import ApprovalResult
from kitelogik.testing.scenarios import Call, Turn
from kitelogik.testing.scripted import ScriptedOpenAI
from kitelogik_openai import GovernedTools
from openai import OpenAI

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


class RefundReviewer:
    """An Approver (kitelogik.protocols): approves refunds up to 50, bound to the exact call."""

    def wait_for_approval(self, decision, event, timeout):
        ok = decision.action == "refund" and decision.args["amount"] <= 50
        print(
            f"  reviewer sees {decision.action}({dict(decision.args)}): "
            f"{'approve' if ok else 'reject'}"
        )
        return ApprovalResult(
            ok,
            "within the refund limit" if ok else "over the limit",
            approvers=("alice",),
            digest=decision.binding_digest if ok else None,
        )

    async def await_approval(self, decision, event, timeout):
        return self.wait_for_approval(decision, event, timeout)


def make_client() -> OpenAI:
    if os.environ.get("OPENAI_API_KEY"):
        return OpenAI()
    scripted = ScriptedOpenAI(SCRIPT)
    http = httpx.Client(transport=httpx.MockTransport(scripted.handler))
    return OpenAI(api_key="sk-offline", base_url="http://scripted.invalid/v1", http_client=http)


def main() -> None:
    gate = PolicyGate(approver=RefundReviewer())  # shipped policies, audit log in ./.kitelogik
    session = SessionContext(
        session_id=f"example-{uuid.uuid4()}",
        agent_id="support-bot",
        user_role="support",
        session_scopes=("fs:read",),
    )
    tools = GovernedTools(gate, context=session)

    @tools.register(tool={"risk_tier": "informational"})
    def get_order(order_id: str) -> str:
        """Look up an order."""
        return f"order {order_id}: 1 x teapot, 25.00 EUR, delivered"

    @tools.register
    def read_file(path: str) -> str:
        """Read a file from the shop's server."""
        return f"(contents of {path})"

    @tools.register(tool={"risk_tier": "transactional_high", "external": True})
    def refund(order_id: str, amount: float) -> str:
        """Refund an order."""
        print(f"  >> refund of {amount:.2f} for {order_id} executed")
        return f"refunded {amount:.2f} for {order_id}"

    messages = [{"role": "user", "content": "Please refund order A-1001."}]
    tools.run_chat(
        make_client(), model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"), messages=messages
    )
    for m in messages:
        role = m["role"]
        text = m.get("content") or ", ".join(
            f"{tc['function']['name']}({tc['function']['arguments']})"
            for tc in m.get("tool_calls", [])
        )
        print(f"{role:>9}: {text}")


if __name__ == "__main__":
    main()
