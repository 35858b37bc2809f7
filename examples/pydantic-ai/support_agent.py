"""A support agent on PydanticAI, governed by Kite Logik (shipped policies).

    python examples/pydantic-ai/support_agent.py

Offline by default: a scripted model makes the tool calls below (no network, no API key). With
OPENAI_API_KEY set (and `pip install "pydantic-ai-slim[openai]"`), the same governed agent runs
on a real model instead.

What happens (shipped policies, session scopes fs:read and email:send):
  read_file("/srv/tickets/4711.txt")  allow    -> the tool runs
  read_file("/etc/shadow")            deny     -> a failed tool result: "[kitelogik] DENIED ..."
  send_email(...)                     escalate -> the run ends with DeferredToolRequests; the
                                                  reviewer's answer, bound to the call, resumes it
"""

from __future__ import annotations

import os
from typing import Any

from kitelogik import PolicyGate, SessionContext
from kitelogik.protocols import ApprovalResult
from kitelogik_pydantic_ai import KitelogikCapability
from pydantic_ai import Agent, DeferredToolRequests

SENT: list[str] = []


def read_file(path: str) -> str:
    """Read a file from the ticket store."""
    return f"<contents of {path}>"


def send_email(to: str, subject: str, body: str) -> str:
    """Send an email to a customer."""
    SENT.append(to)
    return f"sent to {to}"


def model() -> Any:
    if os.environ.get("OPENAI_API_KEY"):
        return "openai:gpt-4.1-mini"
    from kitelogik.testing.scenarios import Call, Turn
    from kitelogik_pydantic_ai.testing import scripted_model

    email = {"to": "ada@example.com", "subject": "Ticket 4711", "body": "Fixed."}
    return scripted_model(
        [
            Turn(
                calls=(
                    Call("read_file", {"path": "/srv/tickets/4711.txt"}, "c1"),
                    Call("read_file", {"path": "/etc/shadow"}, "c2"),
                )
            ),
            Turn(calls=(Call("send_email", email, "c3"),)),
        ],
        final_text="Ticket 4711 answered.",
    )


def reviewer(request: dict[str, Any]) -> ApprovalResult:
    """Stands in for a human (in production: `kitelogik serve` / `kitelogik hitl`). Approves
    with the request's binding digest, so the answer is valid for this exact call only."""
    reasons = "; ".join(request["reasons"])
    print(f"  approval asked: {request['action']} {request['args']} ({reasons})")
    return ApprovalResult(
        True,
        "ok to send",
        ("reviewer@example.com",),
        "req-1",
        request["binding_digest"],
        "approved",
    )


def main() -> None:
    gate = PolicyGate(audit=None)  # audit=None: keep this example from writing an audit log
    ctx = SessionContext(
        session_id="example-pydantic-ai",
        user_role="support",
        session_scopes=["fs:read", "email:send"],
    )
    kitelogik = KitelogikCapability(gate, context=ctx)
    agent = Agent(
        model(),
        instructions="Answer the ticket.",
        tools=[read_file, send_email],
        capabilities=[kitelogik],
        output_type=[str, DeferredToolRequests],  # escalations end the run with these
    )
    result = agent.run_sync("Answer ticket 4711 and email the customer.")
    while isinstance(result.output, DeferredToolRequests):
        requests = kitelogik.approval_requests(result.output)
        answers = {call_id: reviewer(request) for call_id, request in requests.items()}
        result = agent.run_sync(
            message_history=result.all_messages(),
            deferred_tool_results=kitelogik.results(result.output, answers),
        )
    refused = [
        str(part.content)
        for message in result.all_messages()
        for part in getattr(message, "parts", [])
        if getattr(part, "outcome", None) == "failed"
    ]
    for text in refused:
        print("  the model read:", text)
    print("final:", result.output, "| emails sent:", SENT)
    if not os.environ.get("OPENAI_API_KEY"):
        assert SENT == ["ada@example.com"], SENT
        assert len(refused) == 1 and "DENIED read_file" in refused[0], refused


if __name__ == "__main__":
    main()
