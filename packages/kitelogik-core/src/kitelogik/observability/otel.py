"""OpenTelemetry: one span per decision (extra ``otel``: ``opentelemetry-api``).

The span ``kitelogik.decision`` covers the decision routine (it starts ``latency`` before it is
reported and ends when the gate hands it to the audit log), and is a child of whatever span is
current in the caller -- the framework's tool or agent span where one exists -- so traces show
the decision inside the step that asked for it. Kite Logik configures no exporter: the
application's OpenTelemetry set-up decides where spans go.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kitelogik.decision import Decision

__all__ = ["ERROR_RULES", "DecisionTracer"]

#: Rules the gate attaches when its own machinery (not the policy) failed.
ERROR_RULES = frozenset(
    {"kitelogik.engine", "kitelogik.internal", "kitelogik.audit", "kitelogik.budget"}
)


class DecisionTracer:
    """Emits ``kitelogik.decision`` spans. ``tracer_provider`` defaults to the global one."""

    def __init__(self, tracer_provider: Any = None) -> None:
        from opentelemetry import trace

        self._trace = trace
        self._tracer = trace.get_tracer("kitelogik", tracer_provider=tracer_provider)

    def on_decision(self, decision: Decision, audit_error: str | None = None) -> None:
        end = time.time_ns()
        start = end - int(max(decision.latency, 0.0) * 1e9)
        attrs: dict[str, Any] = {
            "kitelogik.decision_id": decision.id,
            "kitelogik.event_type": decision.event_type,
            "kitelogik.action": decision.action,
            "kitelogik.verdict": "deny" if audit_error else decision.verdict,
            "kitelogik.rules": list(decision.rules),
            "kitelogik.risk_tier": decision.risk_tier,
            "kitelogik.engine": decision.engine,
            "kitelogik.latency_us": round(decision.latency * 1e6, 1),
            "kitelogik.session_id": decision.session_id,
            "kitelogik.policy_version": getattr(decision, "policy_version", ""),
        }
        if decision.reasons:
            attrs["kitelogik.reasons"] = list(decision.reasons)
        if decision.engine_decision_id:
            attrs["kitelogik.engine_decision_id"] = decision.engine_decision_id
        span = self._tracer.start_span("kitelogik.decision", start_time=start, attributes=attrs)
        failed = audit_error or next((r for r in decision.rules if r in ERROR_RULES), None)
        if failed:
            from opentelemetry.trace import Status, StatusCode

            span.set_status(Status(StatusCode.ERROR, audit_error or "; ".join(decision.reasons)))
        span.end(end_time=end)
