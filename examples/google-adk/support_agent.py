"""A support agent on Google ADK, governed by Kite Logik (shipped policies).

    python examples/google-adk/support_agent.py

Offline by default: a scripted model makes the tool calls below (no network, no API key). With
GOOGLE_API_KEY set, the same governed agents run on Gemini instead.

What happens (shipped policies, session scopes fs:read and email:send):
  read_file("/srv/tickets/4711.txt")  allow    -> the tool runs
  read_file("/etc/shadow")            deny     -> the function response is
                                                  {"error": "[kitelogik] DENIED ..."}
  send_email(...)                     escalate -> the run pauses with ADK's tool confirmation
                                                  (adk_request_confirmation); the reviewer's
                                                  answer, bound to the call, resumes it
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

os.environ.setdefault("OTEL_SDK_DISABLED", "true")

from google.adk.agents import LlmAgent
from google.adk.apps import App
from google.adk.runners import InMemoryRunner
from google.genai import types
from kitelogik import PolicyGate, SessionContext
from kitelogik.protocols import ApprovalResult
from kitelogik_google_adk import KitelogikPlugin

SENT: list[str] = []


def read_file(path: str) -> str:
    """Read a file from the ticket store."""
    return f"<contents of {path}>"


def send_email(to: str, subject: str, body: str) -> str:
    """Send an email to a customer."""
    SENT.append(to)
    return f"sent to {to}"


def model() -> Any:
    if os.environ.get("GOOGLE_API_KEY"):
        return "gemini-2.5-flash"
    from kitelogik.testing.scenarios import Call, Turn
    from kitelogik_google_adk.testing import scripted_llm

    email = {"to": "ada@example.com", "subject": "Ticket 4711", "body": "Fixed."}
    return scripted_llm(
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
    print(f"  approval asked: {request['action']} {request['args']}")
    return ApprovalResult(
        True, "ok to send", ("reviewer@example.com",), "req-1", request["binding_digest"]
    )


async def main() -> None:
    gate = PolicyGate(audit=None)  # audit=None: keep this example from writing an audit log
    ctx = SessionContext(
        session_id="example-google-adk",
        user_role="support",
        session_scopes=["fs:read", "email:send"],
    )
    kitelogik = KitelogikPlugin(gate, context=ctx)  # no approver: escalations pause the run
    agent = LlmAgent(
        name="support",
        model=model(),
        instruction="Answer the ticket, then email the customer.",
        tools=[read_file, send_email],
    )
    runner = InMemoryRunner(app=App(name="support", root_agent=agent, plugins=[kitelogik]))
    session = await runner.session_service.create_session(app_name="support", user_id="ada")
    message = types.Content(role="user", parts=[types.Part(text="Answer ticket 4711.")])
    refused: list[str] = []
    final = ""
    while message is not None:
        events = [
            e
            async for e in runner.run_async(
                user_id="ada", session_id=session.id, new_message=message
            )
        ]
        for e in events:
            for part in (e.content.parts if e.content else None) or []:
                fr = part.function_response
                if fr is not None and "[kitelogik] DENIED" in str(fr.response):
                    refused.append(str((fr.response or {}).get("error")))
                if part.text:
                    final = part.text
        requests = KitelogikPlugin.approval_requests(events)  # the run paused on these
        answers = {rid: reviewer(req) for rid, req in requests.items()}
        message = KitelogikPlugin.resume_message(answers) if answers else None
    for text in refused:
        print("  the model read:", text)
    print("final:", final, "| emails sent:", SENT)
    if not os.environ.get("GOOGLE_API_KEY"):
        assert SENT == ["ada@example.com"], SENT
        assert len(refused) == 1 and "DENIED read_file" in refused[0], refused


if __name__ == "__main__":
    asyncio.run(main())
