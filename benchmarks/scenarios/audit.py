"""Audit scenarios.

audit_append_batched: one op = 1,000 decision records appended to one SQLite file in batched mode
and flushed to the store (queue, redact, canonical JSON, hash, chain, commit, checkpoints every
1,000). Records per second = ops_per_s x 1,000.

gate_check_audited / gate_check_audited_strict: gate_check_allow (core.py) with the audit log on,
batched or strict (each decision waits for its fsynced commit). Compare p50 with gate_check_allow.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from kitelogik import PolicyGate, RegoEngine
from kitelogik.audit import AuditLog, Signer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from core import EVENTS, POLICY
from core import _gate as core_gate

BATCH = 1000


def _sink(mode: str) -> tuple[AuditLog, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="kl-bench-audit-"))
    sink = AuditLog(tmp / "audit.db", mode=mode, signer=Signer.from_file(tmp / "k.key"))  # type: ignore[arg-type]

    def cleanup() -> None:
        sink.close()
        shutil.rmtree(tmp, ignore_errors=True)

    return sink, cleanup


def _append_batched() -> Any:
    sink, cleanup = _sink("batched")
    gate = PolicyGate(engine=RegoEngine(policy_dirs=[POLICY]), audit=None, resolve_symlinks=False)
    decision = gate.check(EVENTS["allow"])
    record = sink.record_decision
    flush = sink.flush

    def op() -> None:
        for _ in range(BATCH):
            record(decision)
        flush()

    return op, cleanup, 200


def _gate(mode: str) -> Any:
    sink, cleanup = _sink(mode)
    gate = core_gate()  # exactly gate_check_allow's gate, with the audit log on
    gate.audit = sink
    event = EVENTS["allow"]
    if gate.check(event).verdict != "allow":
        raise SystemExit("benchmark policy did not allow the audited scenario")
    return (lambda: gate.check(event)), cleanup, (5000 if mode == "batched" else 500)


def scenarios() -> dict[str, Any]:
    return {
        "audit_append_batched": _append_batched,
        "gate_check_audited": lambda: _gate("batched"),
        "gate_check_audited_strict": lambda: _gate("strict"),
    }
