"""Observability for governance decisions: OpenTelemetry spans and Prometheus metrics.

Both are optional extras (``kitelogik-core[otel]``, ``kitelogik-core[prometheus]``) and cost
nothing unless used: this package imports neither library until :class:`Observed` is created with
them enabled, and the gate never imports this package by itself.

It hooks in where the gate already reports every decision, the audit sink::

    from kitelogik.observability import Observed
    gate = PolicyGate(audit=Observed("default"))   # audit log + spans + metrics
    gate = PolicyGate(audit=Observed(None))        # spans + metrics, no audit log
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kitelogik.decision import Decision
    from kitelogik.observability.otel import DecisionTracer
    from kitelogik.observability.prometheus import DecisionMetrics

__all__ = ["Observed", "available"]

log = logging.getLogger("kitelogik.observability")


def available() -> dict[str, bool]:
    """Which optional back ends are installed."""
    return {
        "otel": importlib.util.find_spec("opentelemetry") is not None,
        "prometheus": importlib.util.find_spec("prometheus_client") is not None,
    }


class Observed:
    """An audit sink that also traces and counts every decision, then passes it to ``sink``.

    ``sink``: an audit sink, ``"default"`` (the default audit log) or ``None`` (no audit log).
    ``tracing`` / ``metrics``: ``"auto"`` (on when the library is installed), ``True``
    (required), ``False``, or a ready :class:`DecisionTracer` / :class:`DecisionMetrics`.
    An audit failure still propagates (the gate denies); it is counted and traced as a deny.
    """

    def __init__(
        self,
        sink: Any = "default",
        *,
        tracing: Any = "auto",
        metrics: Any = "auto",
        tracer_provider: Any = None,
        registry: Any = None,
    ) -> None:
        if sink == "default":
            from kitelogik.audit import default_audit_sink

            sink = default_audit_sink()
        self.sink = sink
        have = available()
        self.tracer: DecisionTracer | None = None
        self.metrics: DecisionMetrics | None = None
        if tracing is True or (tracing == "auto" and have["otel"]):
            from kitelogik.observability.otel import DecisionTracer

            self.tracer = DecisionTracer(tracer_provider)
        elif tracing not in (False, "auto", None):
            self.tracer = tracing
        if metrics is True or (metrics == "auto" and have["prometheus"]):
            from kitelogik.observability.prometheus import DecisionMetrics

            self.metrics = DecisionMetrics(registry)
        elif metrics not in (False, "auto", None):
            self.metrics = metrics
        if self.metrics is not None and sink is not None:
            self.metrics.watch_audit(sink)

    def _observe(self, decision: Decision, audit_error: str | None) -> None:
        for hook in (self.tracer, self.metrics):
            if hook is not None:
                try:
                    hook.on_decision(decision, audit_error)
                except Exception as exc:  # noqa: BLE001 - observability never changes a decision
                    log.warning("observability hook %r failed: %s", hook, exc)

    def record_decision(self, decision: Decision) -> None:
        try:
            if self.sink is not None:
                self.sink.record_decision(decision)
        except BaseException as exc:
            self._observe(decision, f"audit unavailable: {exc}")
            raise
        self._observe(decision, None)

    async def arecord_decision(self, decision: Decision) -> None:
        try:
            if self.sink is not None:
                await self.sink.arecord_decision(decision)
        except BaseException as exc:
            self._observe(decision, f"audit unavailable: {exc}")
            raise
        self._observe(decision, None)

    def record_outcome(self, decision: Decision, outcome: str, error: str | None) -> None:
        if self.sink is not None:
            self.sink.record_outcome(decision, outcome, error)

    async def arecord_outcome(self, decision: Decision, outcome: str, error: str | None) -> None:
        if self.sink is not None:
            await self.sink.arecord_outcome(decision, outcome, error)

    def record_event(self, kind: str, data: Mapping[str, Any]) -> None:
        fn = getattr(self.sink, "record_event", None)
        if fn is not None:
            fn(kind, data)

    async def arecord_event(self, kind: str, data: Mapping[str, Any]) -> None:
        fn = getattr(self.sink, "arecord_event", None)
        if fn is not None:
            await fn(kind, data)
        else:
            self.record_event(kind, data)
