"""OpenTelemetry spans and Prometheus metrics for every decision, through the real SDKs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from kitelogik import PolicyGate, SessionContext, ToolCall
from kitelogik.audit import AuditLog, Signer, SQLiteAuditStore
from kitelogik.engines.base import EngineResult
from kitelogik.engines.rego import RegoEngine
from kitelogik.observability import Observed

POLICY = """
package kitelogik.main

import rego.v1

decision := {
    "allow": input.action == "lookup",
    "deny": input.action == "forbidden",
    "requires_hitl": false,
    "reasons": [r | input.action == "forbidden"; r := "forbidden action"],
    "risk_tier": "low",
    "rules": ["test.obs"],
    "obligations": {},
}
"""

CTX = SessionContext(session_id="s-obs", user_role="r", session_scopes=[])


def call(action: str) -> ToolCall:
    return ToolCall(action=action, args={"q": 1}, context=CTX)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> RegoEngine:
    d = tmp_path_factory.mktemp("obspolicy")
    (d / "main.rego").write_text(POLICY)
    return RegoEngine(d)


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)  # the SDK honours it
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
def registry() -> Any:
    from prometheus_client import CollectorRegistry

    return CollectorRegistry()


def test_span_per_decision_is_a_child_of_the_framework_span(
    engine: RegoEngine, otel: tuple[Any, Any], registry: Any
) -> None:
    provider, exporter = otel
    gate = PolicyGate(engine, audit=Observed(None, tracer_provider=provider, registry=registry))
    framework = provider.get_tracer("some.framework")
    with framework.start_as_current_span("agent.tool_call") as parent:
        d = gate.check(call("lookup"))
    gate.check(call("forbidden"))  # outside any span: a root span
    spans = {
        s.attributes["kitelogik.action"]: s
        for s in exporter.get_finished_spans()
        if s.name == "kitelogik.decision"
    }
    s = spans["lookup"]
    assert s.parent is not None and s.parent.span_id == parent.get_span_context().span_id
    assert s.context.trace_id == parent.get_span_context().trace_id
    a = s.attributes
    assert a["kitelogik.event_type"] == "tool_call" and a["kitelogik.verdict"] == "allow"
    assert list(a["kitelogik.rules"]) == ["test.obs"] and a["kitelogik.risk_tier"] == "low"
    assert a["kitelogik.engine"] == "rego" and a["kitelogik.latency_us"] > 0
    assert a["kitelogik.decision_id"] == d.id
    assert s.end_time - s.start_time == pytest.approx(d.latency * 1e9, abs=1e3)
    denied = spans["forbidden"]
    assert denied.parent is None and denied.attributes["kitelogik.verdict"] == "deny"
    assert list(denied.attributes["kitelogik.reasons"]) == ["forbidden action"]


class BrokenEngine:
    """A real engine whose evaluation fails (the gate must deny and count it)."""

    name = "broken"
    policy_version = "v0"

    def evaluate(self, input_json: str) -> EngineResult:
        raise RuntimeError("engine exploded")

    async def aevaluate(self, input_json: str) -> EngineResult:
        raise RuntimeError("engine exploded")


def test_prometheus_counts_latency_and_engine_errors(
    engine: RegoEngine, registry: Any, otel: tuple[Any, Any]
) -> None:
    provider, exporter = otel
    obs = Observed(None, tracing=False, registry=registry)
    gate = PolicyGate(engine, audit=obs)
    for _ in range(3):
        gate.check(call("lookup"))
    gate.check(call("forbidden"))
    v = registry.get_sample_value
    assert v("kitelogik_decisions_total", {"verdict": "allow", "action": "lookup"}) == 3
    assert v("kitelogik_decisions_total", {"verdict": "deny", "action": "forbidden"}) == 1
    assert v("kitelogik_decision_latency_seconds_count") == 4
    assert v("kitelogik_decision_latency_seconds_sum") > 0
    broken = PolicyGate(
        BrokenEngine(), audit=Observed(None, tracer_provider=provider, metrics=obs.metrics)
    )
    d = broken.check(call("lookup"))
    assert d.verdict == "deny" and "engine exploded" in d.reason
    assert v("kitelogik_engine_errors_total", {"engine": "broken"}) == 1
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "kitelogik.decision"]
    assert span.status.status_code.name == "ERROR"


def test_action_label_cardinality_is_bounded(registry: Any, engine: RegoEngine) -> None:
    from kitelogik.observability.prometheus import DecisionMetrics

    m = DecisionMetrics(registry, max_actions=2)
    gate = PolicyGate(engine, audit=Observed(None, tracing=False, metrics=m))
    for a in ("a1", "a2", "a3", "a4"):
        gate.check(call(a))
    v = registry.get_sample_value
    assert v("kitelogik_decisions_total", {"verdict": "deny", "action": "a2"}) == 1
    assert v("kitelogik_decisions_total", {"verdict": "deny", "action": "_other"}) == 2


def test_audit_lag_gauges_and_audit_failure_are_reported(
    tmp_path: Path, engine: RegoEngine, registry: Any
) -> None:
    import sqlite3

    store = SQLiteAuditStore(tmp_path / "a.db", busy_timeout=0.05)
    sink = AuditLog(store, mode="strict", signer=Signer.generate())
    obs = Observed(sink, tracing=False, registry=registry)
    gate = PolicyGate(engine, audit=obs)
    assert gate.check(call("lookup")).verdict == "allow"
    v = registry.get_sample_value
    assert v("kitelogik_audit_pending_records") == 0
    assert v("kitelogik_audit_lag_seconds") == 0
    blocker = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    d = gate.check(call("lookup"))
    assert d.verdict == "deny" and d.reasons[0].startswith("audit unavailable")
    assert v("kitelogik_audit_unavailable_total") == 1
    assert v("kitelogik_decisions_total", {"verdict": "deny", "action": "lookup"}) == 1
    blocker.execute("ROLLBACK")
    blocker.close()
    sink.close()


def test_metrics_are_served_over_http(registry: Any, engine: RegoEngine) -> None:
    from kitelogik.observability.prometheus import start_metrics_server
    from kitelogik.testing.services import free_port

    gate = PolicyGate(engine, audit=Observed(None, tracing=False, registry=registry))
    gate.check(call("lookup"))
    port = free_port()
    server, thread = start_metrics_server(port, registry=registry)
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        server.shutdown()
        thread.join(10)
    assert 'kitelogik_decisions_total{action="lookup",verdict="allow"} 1.0' in text
    assert "kitelogik_decision_latency_seconds_bucket" in text


def test_outcomes_and_events_pass_through_to_the_audit_log(
    tmp_path: Path, engine: RegoEngine, registry: Any
) -> None:
    with AuditLog(tmp_path / "a.db") as sink:
        obs = Observed(sink, tracing=False, registry=registry)
        PolicyGate(engine, audit=obs).run(call("lookup"), lambda **kw: None)
        obs.record_event("approval.requested", {"request_id": "r"})
    kinds = [r.kind for r in SQLiteAuditStore(tmp_path / "a.db").rows()]
    assert kinds == ["decision", "outcome", "approval.requested"]


def test_not_installed_costs_nothing(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import sys
        sys.modules["opentelemetry"] = None        # as if the extras were not installed
        sys.modules["prometheus_client"] = None
        import kitelogik.observability as obs
        from kitelogik import PolicyGate, SessionContext, ToolCall
        gate = PolicyGate(audit=None)
        gate.check(ToolCall(action="x", args={}, context=SessionContext(session_id="s")))
        o = obs.Observed(None)
        assert o.tracer is None and o.metrics is None, (o.tracer, o.metrics)
        assert obs.available() == {"otel": False, "prometheus": False}
        try:
            obs.Observed(None, tracing=True)
        except ImportError:
            print("required-but-missing raises")
        print("ok")
    """)
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "KITELOGIK_HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["required-but-missing", "raises", "ok"]
    # and the gate by itself never imports either library
    script2 = (
        "import sys; from kitelogik import PolicyGate; import kitelogik.audit; "
        "print(any(m.split('.')[0] in ('opentelemetry', 'prometheus_client') "
        "for m in sys.modules))"
    )
    out2 = subprocess.run(
        [sys.executable, "-c", script2], capture_output=True, text=True, timeout=120
    )
    assert out2.stdout.strip() == "False", out2.stderr
