"""Human-approval scenarios (SQLite store, no audit).

hitl_cycle_sqlite: one op = queue a request for an escalated decision, record one approval, read
it back as the waiting agent would, and consume it (four transactions). This is the queue's own
overhead per escalation; the human's time is not in it.

hitl_wake_sqlite: one op = a waiter blocked in ``wait`` is woken by an approval made in another
thread of the same process (the in-process notification path).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from kitelogik import PolicyGate, RegoEngine
from kitelogik.anchor.hitl import ApprovalQueue, SQLiteApprovalStore
from kitelogik.decision import new_decision_id

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core import EVENTS, POLICY


def _setup() -> tuple[ApprovalQueue, Any, Any, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="kl-bench-hitl-"))
    queue = ApprovalQueue(SQLiteApprovalStore(tmp / "approvals.db"), audit=None)
    gate = PolicyGate(engine=RegoEngine(policy_dirs=[POLICY]), audit=None, resolve_symlinks=False)
    event = EVENTS["escalate"]
    decision = gate.check(event)
    if decision.verdict != "escalate":
        raise SystemExit(f"benchmark policy did not escalate: {decision.reasons}")
    return queue, decision, event, lambda: shutil.rmtree(tmp, ignore_errors=True)


def _cycle() -> Any:
    queue, decision, event, cleanup = _setup()

    def op() -> None:
        d = replace(decision, id=new_decision_id())
        req = queue.request(d, event, 60)
        queue.approve(req.id, "alice", "ok")
        queue.wait(req.id, 60)
        if not queue.consume(req.id, d).approved:
            raise RuntimeError("approval was not usable")

    return op, cleanup, 300


def _wake() -> Any:
    queue, decision, event, cleanup = _setup()

    def op() -> None:
        d = replace(decision, id=new_decision_id())
        req = queue.request(d, event, 60)
        t = threading.Thread(target=queue.approve, args=(req.id, "alice", "ok"))
        t.start()
        if not queue.wait(req.id, 60).approved:
            raise RuntimeError("not approved")
        t.join()

    return op, cleanup, 200


def scenarios() -> dict[str, Any]:
    return {"hitl_cycle_sqlite": _cycle, "hitl_wake_sqlite": _wake}
