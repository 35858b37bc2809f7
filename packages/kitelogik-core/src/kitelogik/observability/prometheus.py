"""Prometheus metrics (extra ``prometheus``: ``prometheus-client``).

* ``kitelogik_decisions_total{verdict, action}``: decisions (the audited verdict);
* ``kitelogik_decision_latency_seconds``: histogram of the decision routine's latency;
* ``kitelogik_engine_errors_total{engine}``: decisions denied because the engine failed;
* ``kitelogik_audit_unavailable_total``: decisions denied because the audit log failed;
* ``kitelogik_audit_lag_seconds`` / ``kitelogik_audit_pending_records``: age and size of the
  audit queue not yet committed (when an :class:`~kitelogik.audit.AuditLog` is attached).

Expose them with :func:`start_metrics_server`, :func:`metrics_app` (an ASGI app to mount into
the user's application, e.g. ``app.mount("/metrics", metrics_app())``) or :func:`metrics_text`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kitelogik.decision import Decision

__all__ = ["DecisionMetrics", "metrics_app", "metrics_text", "start_metrics_server"]

LATENCY_BUCKETS = (
    1e-5,
    2.5e-5,
    5e-5,
    1e-4,
    2.5e-4,
    5e-4,
    1e-3,
    2.5e-3,
    5e-3,
    1e-2,
    2.5e-2,
    5e-2,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
OVERFLOW_ACTION = "_other"


class DecisionMetrics:
    """The collectors, registered in ``registry`` (default: prometheus-client's global one).
    ``max_actions`` bounds the ``action`` label's cardinality; further actions count as
    ``_other``."""

    def __init__(self, registry: Any = None, *, max_actions: int = 500) -> None:
        from prometheus_client import REGISTRY, Counter, Gauge, Histogram

        self.registry = REGISTRY if registry is None else registry
        reg = self.registry
        self.decisions = Counter(
            "kitelogik_decisions",
            "Governance decisions by verdict and action.",
            ["verdict", "action"],
            registry=reg,
        )
        self.latency = Histogram(
            "kitelogik_decision_latency_seconds",
            "Latency of the gate's decision routine.",
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.engine_errors = Counter(
            "kitelogik_engine_errors",
            "Decisions denied because the policy engine failed.",
            ["engine"],
            registry=reg,
        )
        self.audit_unavailable = Counter(
            "kitelogik_audit_unavailable",
            "Decisions denied because the audit log was unavailable.",
            registry=reg,
        )
        self.audit_lag = Gauge(
            "kitelogik_audit_lag_seconds",
            "Age of the oldest audit record not yet committed.",
            registry=reg,
        )
        self.audit_pending = Gauge(
            "kitelogik_audit_pending_records",
            "Audit records queued and not yet committed.",
            registry=reg,
        )
        self.max_actions = max_actions
        self._actions: set[str] = set()

    def watch_audit(self, sink: Any) -> None:
        """Report ``sink``'s queue (an :class:`~kitelogik.audit.AuditLog`) at scrape time."""
        if hasattr(sink, "lag_seconds"):
            self.audit_lag.set_function(lambda: float(sink.lag_seconds))
        if hasattr(sink, "pending"):
            self.audit_pending.set_function(lambda: float(sink.pending))

    def on_decision(self, decision: Decision, audit_error: str | None = None) -> None:
        action = decision.action
        if action not in self._actions:
            if len(self._actions) >= self.max_actions:
                action = OVERFLOW_ACTION
            else:
                self._actions.add(action)
        verdict = "deny" if audit_error else decision.verdict
        self.decisions.labels(verdict, action).inc()
        self.latency.observe(max(decision.latency, 0.0))
        if "kitelogik.engine" in decision.rules:
            self.engine_errors.labels(decision.engine).inc()
        if audit_error or "kitelogik.audit" in decision.rules:
            self.audit_unavailable.inc()


def metrics_text(registry: Any = None) -> bytes:
    from prometheus_client import REGISTRY, generate_latest

    return generate_latest(REGISTRY if registry is None else registry)


def metrics_app(registry: Any = None) -> Any:
    """An ASGI app serving the exposition format (mount it at ``/metrics``)."""
    from prometheus_client import REGISTRY, make_asgi_app

    return make_asgi_app(REGISTRY if registry is None else registry)


def start_metrics_server(port: int = 9464, addr: str = "127.0.0.1", registry: Any = None) -> Any:
    """Serve ``/metrics`` on a background thread; returns ``(server, thread)``."""
    from prometheus_client import REGISTRY, start_http_server

    return start_http_server(port, addr=addr, registry=REGISTRY if registry is None else registry)
