"""A support agent on Haystack, governed by Kite Logik (shipped policies).

    python examples/haystack/support_agent.py

Offline by default: a scripted chat generator makes the tool calls below (no network, no API
key). With OPENAI_API_KEY set, the same governed agent runs on OpenAIChatGenerator instead.

What happens (shipped policies, session scopes fs:read and email:send):
  read_file("/srv/tickets/4711.txt")  allow    -> the tool runs
  read_file("/etc/shadow")            deny     -> an error tool result: "[kitelogik] DENIED ..."
  send_email(...)                     escalate -> waits in the durable approval queue
                                                  (kitelogik.anchor.hitl.ApprovalQueue) until a
                                                  reviewer approves that exact call
"""

from __future__ import annotations

import os

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

import tempfile
import threading
from pathlib import Path
from typing import Any

from haystack.components.agents import Agent
from haystack.dataclasses import ChatMessage
from haystack.tools import tool
from kitelogik import PolicyGate, SessionContext
from kitelogik.anchor.hitl import ApprovalQueue
from kitelogik_haystack import Kitelogik

SENT: list[str] = []


@tool
def read_file(path: str) -> str:
    """Read a file from the ticket store."""
    return f"<contents of {path}>"


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email to a customer."""
    SENT.append(to)
    return f"sent to {to}"


def generator() -> Any:
    if os.environ.get("OPENAI_API_KEY"):
        from haystack.components.generators.chat import OpenAIChatGenerator

        return OpenAIChatGenerator(model="gpt-4.1-mini")
    from kitelogik.testing.scenarios import Call, Turn
    from kitelogik_haystack.testing import scripted_generator

    email = {"to": "ada@example.com", "subject": "Ticket 4711", "body": "Fixed."}
    return scripted_generator(
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


def reviewer(queue: ApprovalQueue, stop: threading.Event) -> None:
    """Stands in for a human at `kitelogik serve` / `kitelogik hitl`: approves each pending
    request with the digest it was shown, so the answer is valid for that exact call only."""
    while not stop.is_set():
        for request in queue.list("pending"):
            print(f"  approval asked: {request.action} {dict(request.args)}")
            queue.approve(request.id, "reviewer@example.com", "ok to send", request.digest)
        stop.wait(0.02)


def main() -> None:
    home = Path(os.environ.get("KITELOGIK_HOME") or tempfile.mkdtemp())
    queue = ApprovalQueue(home / "approvals.db", audit=None)
    # audit=None: keep this example from writing an audit log
    gate = PolicyGate(audit=None, approver=queue, approval_timeout=30)
    ctx = SessionContext(
        session_id="example-haystack",
        user_role="support",
        session_scopes=["fs:read", "email:send"],
    )
    kitelogik = Kitelogik(gate, context=ctx)
    agent = Agent(
        chat_generator=generator(),
        system_prompt="Answer the ticket.",
        tools=kitelogik.tools([read_file, send_email]),
        hooks=kitelogik.hooks(),
    )
    stop = threading.Event()
    human = threading.Thread(target=reviewer, args=(queue, stop), daemon=True)
    human.start()
    try:
        result = agent.run(
            messages=[ChatMessage.from_user("Answer ticket 4711 and email the customer.")]
        )
    finally:
        stop.set()
        human.join()
    refused = [
        str(r.result)
        for m in result["messages"]
        for r in m.tool_call_results or []
        if r.error and "[kitelogik]" in str(r.result)
    ]
    for text in refused:
        print("  the model read:", text)
    print("final:", result["last_message"].text, "| emails sent:", SENT)
    if not os.environ.get("OPENAI_API_KEY"):
        assert SENT == ["ada@example.com"], SENT
        assert len(refused) == 1 and "DENIED read_file" in refused[0], refused


if __name__ == "__main__":
    main()
