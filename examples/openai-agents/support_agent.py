"""A support agent on the OpenAI Agents SDK, governed by Kite Logik (shipped policies).

    python examples/openai-agents/support_agent.py

Offline by default: a scripted model makes the tool calls below (no network, no API key). With
OPENAI_API_KEY set, the same governed agent runs on a real model instead.

What happens (shipped policies, session scopes fs:read and email:send):
  read_file("/srv/tickets/4711.txt")  allow    -> the tool runs
  read_file("/etc/shadow")            deny     -> the model reads "[kitelogik] DENIED read_file"
  send_email(...)                     escalate -> the run pauses (result.interruptions); a
                                                  reviewer's answer bound to the call resumes it
"""

from __future__ import annotations

import asyncio
import os

from agents import Agent, Runner, function_tool, set_tracing_disabled
from kitelogik import PolicyGate, SessionContext
from kitelogik.adapters import approval_answer
from kitelogik.protocols import ApprovalResult
from kitelogik_openai_agents import KitelogikGuardrail

SENT: list[str] = []


@function_tool
def read_file(path: str) -> str:
    """Read a file from the ticket store."""
    return f"<contents of {path}>"


@function_tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email to a customer."""
    SENT.append(to)
    return f"sent to {to}"


def model() -> object:
    if os.environ.get("OPENAI_API_KEY"):
        return "gpt-4.1-mini"
    set_tracing_disabled(True)
    from agents.testing import ScriptedModel, assistant_message, function_call

    return ScriptedModel(
        [
            [
                function_call("read_file", {"path": "/srv/tickets/4711.txt"}, call_id="c1"),
                function_call("read_file", {"path": "/etc/shadow"}, call_id="c2"),
            ],
            [
                function_call(
                    "send_email",
                    {"to": "ada@example.com", "subject": "Ticket 4711", "body": "Fixed."},
                    call_id="c3",
                )
            ],
            [assistant_message("Ticket 4711 answered.")],
        ]
    )


def reviewer(request: dict) -> ApprovalResult:
    """Stands in for a human (in production: `kitelogik serve` / `kitelogik hitl`). Approves
    with the request's binding digest, so the answer is valid for this exact call only."""
    print(
        f"  approval asked: {request['action']} {request['args']} ({'; '.join(request['reasons'])})"
    )
    return ApprovalResult(
        True,
        "ok to send",
        ("reviewer@example.com",),
        "req-1",
        request["binding_digest"],
        "approved",
    )


async def main() -> None:
    gate = PolicyGate(audit=None)  # audit=None: keep this example from writing an audit log
    ctx = SessionContext(
        session_id="example-openai-agents",
        user_role="support",
        session_scopes=["fs:read", "email:send"],
    )
    guard = KitelogikGuardrail(gate, context=ctx)
    agent = guard.govern(
        Agent(
            name="support",
            instructions="Answer the ticket.",
            tools=[read_file, send_email],
            model=model(),
        )
    )
    result = await Runner.run(agent, "Answer ticket 4711 and email the customer.")
    while result.interruptions:
        state = result.to_state()
        for item in result.interruptions:
            request = guard.approval_request(item)
            answer = reviewer(request) if request else ApprovalResult(False, "not ours")
            await guard.aresolve(state, item, approval_answer(answer))
        result = await Runner.run(agent, state)
    refused = [
        r.output.behavior["message"]
        for r in result.tool_input_guardrail_results
        if r.output.behavior["type"] == "reject_content"
    ]
    for text in refused:
        print("  the model read:", text)
    print("final:", result.final_output, "| emails sent:", SENT)
    if not os.environ.get("OPENAI_API_KEY"):
        assert SENT == ["ada@example.com"], SENT
        assert len(refused) == 1 and "DENIED read_file" in refused[0], refused


if __name__ == "__main__":
    asyncio.run(main())
