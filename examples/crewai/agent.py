"""A CrewAI crew whose every tool call and delegation is decided by Kite Logik first.

    .venvs/crewai/bin/python examples/crewai/agent.py
    (scripts/plugin-env.sh crewai builds that environment)

Offline by default: a scripted model asks for an order and for /etc/passwd in one turn (the
order is allowed; /etc/passwd is denied and the model gets the reason as the tool result), then
for a refund (escalated: the hook waits for a reviewer who approves this exact call, and the
refund runs once). With OPENAI_API_KEY set, a real OpenAI model drives the same crew.
Telemetry is off (CREWAI_DISABLE_TELEMETRY, OTEL_SDK_DISABLED).
"""

from __future__ import annotations

import os

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")
os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")

import uuid

from crewai import Agent, Crew, Task
from crewai.tools import tool
from kitelogik import PolicyGate, SessionContext
from kitelogik.protocols import ApprovalResult
from kitelogik.testing.scenarios import Call, Turn
from kitelogik_crewai import KitelogikHooks
from kitelogik_crewai.testing import ScriptedLLM


@tool("get_order")
def get_order(order_id: str) -> str:
    """Look up an order."""
    return f"order {order_id}: 1 x teapot, 25.00 EUR, delivered"


@tool("read_file")
def read_file(path: str) -> str:
    """Read a file from the shop's server."""
    return f"(contents of {path})"


@tool("refund")
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


def make_llm():
    if os.environ.get("OPENAI_API_KEY"):
        return os.environ.get("OPENAI_MODEL", "gpt-4o-mini")  # CrewAI's own OpenAI provider
    return ScriptedLLM.from_turns(SCRIPT)


def main() -> None:
    # Shipped policies (+ ./policies if present), audit log in ./.kitelogik, a reviewer.
    gate = PolicyGate(approver=Reviewer())
    session = SessionContext(
        session_id=f"example-{uuid.uuid4()}",
        agent_id="support-bot",
        user_role="support",
        session_scopes=("fs:read",),
    )
    llm = make_llm()
    agent = Agent(
        role="support agent",
        goal="Help customers with their orders",
        backstory="You work at a teapot shop.",
        llm=llm,
        tools=[get_order, read_file, refund],
    )
    task = Task(description="Please refund order A-1001.", expected_output="a reply", agent=agent)
    # Hooks are process-global in CrewAI: registered for this block only.
    with KitelogikHooks(gate, context=session, tools=TOOL_FACTS).installed():
        result = Crew(agents=[agent], tasks=[task]).kickoff()
    if isinstance(llm, ScriptedLLM):
        for call_id, text in llm.seen().items():
            print(f"     tool {call_id}: {text}")
    print(f"assistant: {result.raw}")


if __name__ == "__main__":
    main()
