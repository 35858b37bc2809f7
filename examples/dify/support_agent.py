"""A support agent on Dify's governed agent strategy (Kite Logik, shipped policies).

    python examples/dify/support_agent.py

Runs the strategy's real entry point (`GovernedFunctionCalling.invoke`, as the Dify plugin
daemon calls it) offline: a scripted session stands in for the daemon's model and tool
invocations (no network, no API key). In Dify itself, install the plugin package built from
packages/kitelogik-dify/difypkg and pick "Kite Logik / Governed Function Calling" in an Agent
node; the model and the tools are then the node's own.

What happens (shipped policies, node settings: role support, scopes fs:read,email:send):
  read_file("/srv/tickets/4711.txt")  allow    -> the tool runs
  read_file("/etc/shadow")            deny     -> the model reads "[kitelogik] DENIED ..."
  send_email(...)                     escalate -> waits for the reviewer (the gate's approver);
                                                  approved for that exact call only
"""

from __future__ import annotations

from typing import Any

from dify_plugin.entities.agent import AgentRuntime
from kitelogik import PolicyGate
from kitelogik.decision import Decision
from kitelogik.events import GovernanceEvent
from kitelogik.protocols import ApprovalResult
from kitelogik.testing.scenarios import Call, Turn
from kitelogik_dify import GovernedFunctionCalling
from kitelogik_dify.testing import ScriptedSession, model_params, tool_entity

SENT: list[str] = []


def read_file(path: str) -> str:
    return f"<contents of {path}>"


def send_email(to: str, subject: str, body: str) -> str:
    SENT.append(to)
    return f"sent to {to}"


class Reviewer:
    """Stands in for a human (in production: `kitelogik.anchor.hitl.ApprovalQueue`, answered
    through `kitelogik serve` / `kitelogik hitl`). Approves with the decision's binding digest,
    so the answer is valid for this exact call only."""

    def wait_for_approval(
        self, decision: Decision, event: GovernanceEvent, timeout: float
    ) -> ApprovalResult:
        print(f"  approval asked: {decision.action} {dict(event.args)}")
        return ApprovalResult(
            True, "ok to send", ("reviewer@example.com",), "req-1", decision.binding_digest
        )

    async def await_approval(
        self, decision: Decision, event: GovernanceEvent, timeout: float
    ) -> ApprovalResult:
        return self.wait_for_approval(decision, event, timeout)


def main() -> None:
    email = {"to": "ada@example.com", "subject": "Ticket 4711", "body": "Fixed."}
    session = ScriptedSession(
        [
            Turn(
                calls=(
                    Call("read_file", {"path": "/srv/tickets/4711.txt"}, "c1"),
                    Call("read_file", {"path": "/etc/shadow"}, "c2"),
                )
            ),
            Turn(calls=(Call("send_email", email, "c3"),)),
        ],
        {"read_file": read_file, "send_email": send_email},
        final_text="Ticket 4711 answered.",
    )
    strategy = GovernedFunctionCalling(runtime=AgentRuntime(user_id="agent-1"), session=session)  # type: ignore[arg-type]
    # audit=None: keep this example from writing an audit log
    strategy.gate = PolicyGate(audit=None, approver=Reviewer())
    text = {"type": "string"}
    tools = [
        tool_entity(
            "read_file", "Read a file from the ticket store.", {"properties": {"path": text}}
        ),
        tool_entity(
            "send_email",
            "Send an email to a customer.",
            {"properties": {"to": text, "subject": text, "body": text}},
        ),
    ]
    parameters: dict[str, Any] = {
        "query": "Answer ticket 4711 and email the customer.",
        "instruction": "Answer the ticket.",
        "model": model_params(),
        "tools": tools,
        "kitelogik_role": "support",
        "kitelogik_scopes": "fs:read,email:send",
    }
    final = ""
    for message in strategy.invoke(parameters):
        if message.type.value == "json":  # the decision records in Dify's run log
            record = message.message.json_object["kitelogik"]  # type: ignore[union-attr]
            print(f"  run log: {record['tool']} -> {record['verdict']}")
        elif message.type.value == "text":
            final = message.message.text  # type: ignore[union-attr]
    refused = [t for t in session.seen().values() if t.startswith("[kitelogik] DENIED")]
    for t in refused:
        print("  the model read:", t)
    print("final:", final, "| emails sent:", SENT)
    assert SENT == ["ada@example.com"], SENT
    assert len(refused) == 1 and "DENIED read_file" in refused[0], refused


if __name__ == "__main__":
    main()
