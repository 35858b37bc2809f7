"""Control-plane scenarios (shipped policies).

budget_reserve_commit_sqlite: one op = reserve + commit of one tool call's cost in a SQLite ledger
(session, agent and organization accounts; two write transactions).
gate_check_budget_sqlite: a full gate decision with the ledger, then the commit. Compare with
gate_check_shipped (the same gate without a ledger).
gate_check_flowgate: FlowGate (labels, provenance, agent registry) on the same event.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from kitelogik import PolicyGate, SessionContext, ToolCall
from kitelogik.agents import AgentRegistry
from kitelogik.budgets import SQLiteBudgetLedger, agent_account, org_account
from kitelogik.flow import FlowGate

CTX = SessionContext(session_id="bench", agent_id="a1", session_scopes=["fs:read"])
EVENT = ToolCall(action="read_file", args={"path": "/srv/workspace/a.txt"}, context=CTX)
BIG = {"api_calls": 1e15, "tokens": 1e15, "money": 1e15}


def _ledger() -> tuple[SQLiteBudgetLedger, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="kl-bench-budget-"))
    led = SQLiteBudgetLedger(tmp / "b.db", organization="acme", session_limits=BIG)
    led.set_limits(agent_account("a1"), BIG)
    led.set_limits(org_account("acme"), BIG)

    def cleanup() -> None:
        led.close()
        shutil.rmtree(tmp, ignore_errors=True)

    return led, cleanup


def _reserve_commit() -> Any:
    led, cleanup = _ledger()

    def op() -> None:
        led.commit(led.reserve(EVENT), None)

    return op, cleanup, 2000


def _gate_budget() -> Any:
    led, cleanup = _ledger()
    gate = PolicyGate(budget=led, audit=None, resolve_symlinks=False)
    if not gate.check(EVENT).allowed:
        raise SystemExit("shipped policy did not allow the budget scenario")

    def op() -> None:
        gate.record_outcome(gate.check(EVENT), "ran")

    return op, cleanup, 1000


def _gate_plain() -> Any:
    gate = PolicyGate(audit=None, resolve_symlinks=False)
    return lambda: gate.check(EVENT)


def _gate_flow() -> Any:
    reg = AgentRegistry()
    ctx = reg.register_root("a1", "bench", ["fs:read"]).context
    gate = FlowGate(audit=None, agents=reg, resolve_symlinks=False)
    event = ToolCall(action="read_file", args={"path": "/srv/workspace/a.txt"}, context=ctx)
    if not gate.check(event).allowed:
        raise SystemExit("shipped policy did not allow the flow scenario")
    return lambda: gate.check(event)


def scenarios() -> dict[str, Any]:
    return {
        "budget_reserve_commit_sqlite": _reserve_commit,
        "gate_check_budget_sqlite": _gate_budget,
        "gate_check_shipped": _gate_plain,
        "gate_check_flowgate": _gate_flow,
    }
