"""The gate's decision routine: verdict order, deny by default, and fail-closed on every error
path. Each test runs real Rego through the embedded engine; both drivers (check and acheck) are
exercised through the ``decide`` fixture so sync and async can never drift apart."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kitelogik import (
    AgentSpawn,
    DataAccess,
    Delegation,
    PlanProposal,
    PlanStep,
    PolicyGate,
    RegoEngine,
    ResourceUse,
    SessionContext,
    ToolCall,
)
from kitelogik.canonical import Limits
from kitelogik.decision import Decision
from kitelogik.events import GovernanceEvent

REPO = Path(__file__).resolve().parents[3]
CTX = SessionContext(session_id="s1", user_role="support", session_scopes=["read"])

HEADER = "package kitelogik.main\nimport rego.v1\n"
DEFAULT = """
default decision := {"allow": false, "deny": false, "requires_hitl": false, "reasons": [],
                     "risk_tier": "informational", "rules": [], "obligations": {}}
"""


def bundle(tmp_path: Path, body: str, name: str = "main.rego") -> Path:
    d = tmp_path / "bundle"
    (d / "kitelogik").mkdir(parents=True, exist_ok=True)
    (d / "kitelogik" / name).write_text(HEADER + body)
    return d


def doc(**kw: Any) -> str:
    base = {
        "allow": False,
        "deny": False,
        "requires_hitl": False,
        "reasons": [],
        "risk_tier": "informational",
        "rules": [],
        "obligations": {},
    }
    base.update(kw)
    import json

    return json.dumps(base)


def gate_for(tmp_path: Path, body: str, **kw: Any) -> PolicyGate:
    return PolicyGate(policy_dir=bundle(tmp_path, body), audit=None, **kw)


@pytest.fixture(params=["sync", "async"])
def decide(request: pytest.FixtureRequest):
    def run(gate: PolicyGate, event: Any) -> Decision:
        if request.param == "sync":
            return gate.check(event)
        return asyncio.run(gate.acheck(event))

    return run


def call(action: str = "read_file", **args: Any) -> ToolCall:
    return ToolCall(action=action, args=args, context=CTX)


# --- verdict order -------------------------------------------------------------------------


def test_allow(tmp_path, decide) -> None:
    g = gate_for(tmp_path, f"decision := {doc(allow=True, reasons=['ok'], rules=['r.ok'])}")
    d = decide(g, call())
    assert d.verdict == "allow" and d.reasons == ("ok",) and d.rules == ("r.ok",)
    assert d.engine == "rego" and d.latency > 0 and uuid.UUID(d.id).version == 7


def test_deny_wins_over_allow_and_escalate(tmp_path, decide) -> None:
    g = gate_for(
        tmp_path, "decision := " + doc(allow=True, deny=True, requires_hitl=True, reasons=["no"])
    )
    assert decide(g, call()).verdict == "deny"


def test_escalate_wins_over_allow(tmp_path, decide) -> None:
    g = gate_for(tmp_path, "decision := " + doc(allow=True, requires_hitl=True, reasons=["h"]))
    assert decide(g, call()).verdict == "escalate"


def test_nothing_allowed_is_a_deny_with_a_reason(tmp_path, decide) -> None:
    g = gate_for(tmp_path, DEFAULT)
    d = decide(g, call())
    assert d.verdict == "deny" and "deny by default" in d.reasons[0]


def test_deny_without_reasons_still_has_one(tmp_path, decide) -> None:
    g = gate_for(tmp_path, "decision := " + doc(deny=True))
    d = decide(g, call())
    assert d.verdict == "deny" and d.reasons


def test_undefined_decision_is_a_deny(tmp_path, decide) -> None:
    g = gate_for(tmp_path, 'decision := {"allow": true} if input.action == "never"')
    d = decide(g, call())
    assert d.verdict == "deny" and "undefined" in d.reason


@pytest.mark.parametrize(
    "body",
    [
        'decision := "allow"',
        "decision := true",
        'decision := {"allow": true}',
        'decision := {"allow": "true", "deny": false, "requires_hitl": false, "reasons": [],'
        ' "risk_tier": "x", "rules": [], "obligations": {}}',
        'decision := {"allow": 1, "deny": 0, "requires_hitl": false, "reasons": [],'
        ' "risk_tier": "x", "rules": [], "obligations": {}}',
        'decision := {"allow": true, "deny": false, "requires_hitl": false, "reasons": "ok",'
        ' "risk_tier": "x", "rules": [], "obligations": {}}',
        'decision := {"allow": true, "deny": false, "requires_hitl": false, "reasons": [1],'
        ' "risk_tier": "x", "rules": [], "obligations": {}}',
        'decision := {"allow": true, "deny": null, "requires_hitl": false, "reasons": [],'
        ' "risk_tier": "x", "rules": [], "obligations": {}}',
        'decision := {"allow": true, "deny": false, "requires_hitl": false, "reasons": [],'
        ' "risk_tier": 3, "rules": [], "obligations": {}}',
        'decision := {"allow": true, "deny": false, "requires_hitl": false, "reasons": [],'
        ' "risk_tier": "x", "rules": [], "obligations": []}',
    ],
)
def test_malformed_decisions_are_denied(tmp_path, decide, body: str) -> None:
    d = decide(gate_for(tmp_path, body), call())
    assert d.verdict == "deny"
    assert "malformed" in d.reason or "undefined" in d.reason


# --- fail closed ---------------------------------------------------------------------------


BUILTIN_ALLOW = (
    "decision := " + doc(allow=True) + " if { time.parse_rfc3339_ns(input.args.when) > 0 }"
)
BUILTIN_DENY = (
    "decision := "
    + doc(deny=True, reasons=["private address"])
    + ' if { net.cidr_contains("10.0.0.0/8", input.args.ip) }\n'
    "else := " + doc(allow=True)
)


def test_builtin_error_in_an_allow_rule_denies_in_both_modes(tmp_path, decide) -> None:
    for strict in (True, False):
        engine = RegoEngine(policy_dirs=[bundle(tmp_path, BUILTIN_ALLOW)], strict=strict)
        d = decide(PolicyGate(engine=engine, audit=None), call(when="not a time"))
        assert d.verdict == "deny"
        if strict:  # the interpreter aborts, like OPA with strict-builtin-errors
            assert "policy engine error" in d.reason
            assert "Failed to parse datetime" in d.reason


def test_strict_mode_denies_where_a_builtin_error_would_skip_a_deny_rule(tmp_path, decide) -> None:
    """The hazard of non-strict evaluation, documented by test: a malformed IP makes the deny
    rule's builtin fail. Strict mode denies the whole call; the default VM mode treats the
    failing expression as undefined (OPA's default), so the deny rule does not fire. Policies
    for the default mode guard builtin arguments, as the shipped ones do."""
    strict = PolicyGate(
        engine=RegoEngine(policy_dirs=[bundle(tmp_path, BUILTIN_DENY)], strict=True), audit=None
    )
    fast = PolicyGate(engine=RegoEngine(policy_dirs=[bundle(tmp_path, BUILTIN_DENY)]), audit=None)
    assert decide(strict, call(ip="10.1.2.3")).verdict == "deny"
    assert decide(fast, call(ip="10.1.2.3")).verdict == "deny"
    assert decide(strict, call(ip="10.1.2.3/99x")).verdict == "deny"
    assert decide(fast, call(ip="10.1.2.3/99x")).verdict == "allow"


def test_policy_syntax_error_is_a_deny_naming_the_file(tmp_path, decide) -> None:
    g = gate_for(tmp_path, "decision := {{{ oops")
    d = decide(g, call())
    assert d.verdict == "deny"
    assert "main.rego" in d.reason and "no policy loaded" in d.reason


def test_missing_policy_directory_is_a_deny_not_a_crash(tmp_path, decide) -> None:
    g = PolicyGate(engine=RegoEngine(policy_dirs=[tmp_path / "nope"]), audit=None)
    d = decide(g, call())
    assert d.verdict == "deny" and "policy directory not found" in d.reason


def test_empty_policy_directory_is_a_deny(tmp_path, decide) -> None:
    (tmp_path / "empty").mkdir()
    g = PolicyGate(engine=RegoEngine(policy_dirs=[tmp_path / "empty"]), audit=None)
    assert decide(g, call()).verdict == "deny"


class _FailingAudit:
    def record_decision(self, decision: Decision) -> None:
        raise OSError("disk full")

    async def arecord_decision(self, decision: Decision) -> None:
        raise OSError("disk full")

    def record_outcome(self, *a: Any) -> None:  # pragma: no cover
        pass

    async def arecord_outcome(self, *a: Any) -> None:  # pragma: no cover
        pass


def test_audit_failure_turns_an_allow_into_a_deny(tmp_path, decide) -> None:
    g = PolicyGate(
        policy_dir=bundle(tmp_path, "decision := " + doc(allow=True)), audit=_FailingAudit()
    )
    d = decide(g, call())
    assert d.verdict == "deny" and d.reason.startswith("audit unavailable: OSError: disk full")


class _BrokenEngine:
    """An engine that answers garbage: a stand-in for a compromised or buggy backend."""

    name = "broken"
    policy_version = "x"

    def __init__(self, exc: BaseException | None = None, result: Any = None) -> None:
        self.exc, self.result = exc, result

    def evaluate(self, input_json: str):
        if self.exc is not None:
            raise self.exc
        return self.result

    async def aevaluate(self, input_json: str):
        return self.evaluate(input_json)


@pytest.mark.parametrize(
    "engine",
    [
        _BrokenEngine(exc=RuntimeError("boom")),
        _BrokenEngine(exc=TimeoutError()),
        _BrokenEngine(exc=MemoryError()),
        _BrokenEngine(exc=RecursionError()),
        _BrokenEngine(result=None),  # not even an EngineResult
        _BrokenEngine(result={"allow": True}),
    ],
)
def test_engine_failures_of_every_kind_deny(engine, decide) -> None:
    d = decide(PolicyGate(engine=engine, audit=None), call())
    assert d.verdict == "deny" and d.reasons


def test_base_exception_from_engine_denies(decide) -> None:
    class Panic(BaseException):  # what a pyo3 PanicException looks like to Python
        pass

    d = decide(PolicyGate(engine=_BrokenEngine(exc=Panic("thread")), audit=None), call())
    assert d.verdict == "deny" and "Panic" in d.reason


# --- bad input -----------------------------------------------------------------------------


ALLOW_ALL = "decision := " + doc(allow=True)


@pytest.mark.parametrize(
    ("event", "needle"),
    [
        (ToolCall(action="", args={}, context=CTX), "action must be"),
        (ToolCall(action="x" * 300, args={}, context=CTX), "action must be"),
        (ToolCall(action="a\x00b", args={}, context=CTX), "NUL"),
        (ToolCall(action=42, args={}, context=CTX), "action must be"),  # type: ignore[arg-type]
        (ToolCall(action="t", args={"p": "\x00"}, context=CTX), "NUL"),
        (ToolCall(action="t", args={"x": {1, 2}}, context=CTX), "not JSON-serializable"),
        (ToolCall(action="t", args="rm -rf /", context=CTX), "must be a mapping"),  # type: ignore[arg-type]
        (ToolCall(action="t", args={"n": float("nan")}, context=CTX), "non-finite"),
        (ToolCall(action="t", context=SessionContext(session_id=None)), "session_id"),  # type: ignore[arg-type]
        (
            ToolCall(action="t", context=SessionContext(session_id="s", session_scopes="admin")),
            "session_scopes",
        ),
        (
            ToolCall(action="t", context=SessionContext(session_id="s", session_scopes=[1])),
            "session_scopes",
        ),
        (
            ToolCall(action="t", context=SessionContext(session_id="s", delegation_depth=-1)),
            "delegation_depth",
        ),
        (
            ToolCall(action="t", context=SessionContext(session_id="s", user_role=["admin"])),  # type: ignore[arg-type]
            "user_role",
        ),
        (ToolCall(action="t", data_labels="secret", context=CTX), "data_labels"),
    ],
)
def test_bad_events_are_denied_with_a_clear_reason(tmp_path, decide, event, needle) -> None:
    d = decide(gate_for(tmp_path, ALLOW_ALL), event)
    assert d.verdict == "deny"
    assert needle in d.reason, d.reason
    assert d.rules == ("kitelogik.input",)


def test_unknown_event_type_is_denied(tmp_path, decide) -> None:
    class Sneaky(ToolCall):
        event_type = "tool_call"

    class Other(GovernanceEvent):
        event_type = "shell"

    g = gate_for(tmp_path, ALLOW_ALL)
    for ev in (Sneaky(action="t", context=CTX), Other(action="t", context=CTX), object()):
        d = decide(g, ev)
        assert d.verdict == "deny" and "unknown event type" in d.reason


def test_oversized_arguments_are_denied(tmp_path, decide) -> None:
    g = gate_for(tmp_path, ALLOW_ALL, limits=Limits(max_bytes=1024))
    assert decide(g, call(blob="x" * 100)).verdict == "allow"
    d = decide(g, call(blob="x" * 200_000))
    assert d.verdict == "deny" and "limit" in d.reason


def test_default_size_limit_is_one_mebibyte(tmp_path, decide) -> None:
    g = gate_for(tmp_path, ALLOW_ALL)
    assert decide(g, call(blob="x" * 900_000)).verdict == "allow"
    assert decide(g, call(blob="x" * 1_200_000)).verdict == "deny"


def test_deeply_nested_arguments_are_denied(tmp_path, decide) -> None:
    nested: Any = "leaf"
    for _ in range(100):
        nested = {"n": nested}
    d = decide(gate_for(tmp_path, ALLOW_ALL), call(x=nested))
    assert d.verdict == "deny" and "nested deeper" in d.reason


# --- the input document --------------------------------------------------------------------


ECHO = "decision := " + doc(allow=True) + "\ninput_copy := input"


def test_policy_sees_canonical_resources_not_the_raw_strings(tmp_path, decide) -> None:
    g = gate_for(
        tmp_path,
        "decision := "
        + doc(deny=True, reasons=["etc"])
        + ' if { "/etc/passwd" in input.resource.paths }\n'
        "else := " + doc(allow=True),
    )
    assert decide(g, call(path="/srv/data/../../etc/passwd")).verdict == "deny"
    assert decide(g, call(path="/srv/%2e%2e/%2e%2e/etc/passwd")).verdict == "deny"
    assert decide(g, call(path="/srv/data/report.txt")).verdict == "allow"


def test_every_event_type_produces_a_schema_valid_document(tmp_path) -> None:
    import json

    import jsonschema

    schema = json.loads((REPO / "policies" / "input.schema.json").read_text())
    g = gate_for(tmp_path, ALLOW_ALL)
    events = [
        call(path="/tmp/x", url="https://a.example"),
        AgentSpawn(
            action="child",
            requested_capabilities=["read"],
            parent_capabilities=["read"],
            context=CTX,
        ),
        Delegation(action="other", child_scopes=["read"], target_agent_id="a2", context=CTX),
        PlanProposal(action="p", steps=[PlanStep("read_file", {"path": "a"})], context=CTX),
        ResourceUse(action="tokens", requested={"tokens": 5}, context=CTX),
        DataAccess(action="db", classification="internal", mode="write", context=CTX),
    ]
    for ev in events:
        d = g.check(ev)
        assert d.verdict == "allow", d.reason
        jsonschema.validate(json.loads(json.dumps(d.input)), schema)
        assert d.input["event_type"] == ev.event_type


def test_policy_input_schema_is_current() -> None:
    import json

    from kitelogik.schema import input_json_schema

    checked_in = json.loads((REPO / "policies" / "input.schema.json").read_text())
    assert checked_in == input_json_schema(), (
        "policies/input.schema.json is stale: run "
        "`uv run python -m kitelogik.schema > policies/input.schema.json`"
    )


def test_decision_ids_are_unique_and_time_ordered(tmp_path) -> None:
    g = gate_for(tmp_path, ALLOW_ALL)
    ids = [g.check(call()).id for _ in range(2000)]
    assert len(set(ids)) == 2000
    ms = [uuid.UUID(i).int >> 80 for i in ids]
    assert ms == sorted(ms)


# --- engine: threads and hot reload ---------------------------------------------------------


def test_gate_is_safe_to_use_from_many_threads(tmp_path) -> None:
    g = gate_for(
        tmp_path,
        "decision := " + doc(allow=True) + " if input.args.n < 100\n"
        "else := " + doc(deny=True, reasons=["big"]),
    )
    errors: list[BaseException] = []
    verdicts: list[str] = []

    def worker(n: int) -> None:
        try:
            for i in range(50):
                verdicts.append(g.check(call(n=n * 10 + i % 20)).verdict)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(verdicts) == 800 and set(verdicts) == {"allow", "deny"}


def test_hot_reload_picks_up_edits_and_keeps_last_good_on_a_bad_edit(tmp_path, caplog) -> None:
    d = bundle(tmp_path, "decision := " + doc(allow=True))
    engine = RegoEngine(policy_dirs=[d], reload_interval=0.0)
    g = PolicyGate(engine=engine, audit=None)
    assert g.check(call()).verdict == "allow"
    v1 = engine.policy_version

    main = d / "kitelogik" / "main.rego"
    main.write_text(HEADER + "decision := " + doc(deny=True, reasons=["edited"]))
    _touch_later(main)
    assert g.check(call()).reasons == ("edited",)
    assert engine.policy_version != v1 and engine.error is None

    main.write_text(HEADER + "decision := {{{ broken")
    _touch_later(main)
    d2 = g.check(call())
    assert d2.reasons == ("edited",)  # last good policy still decides
    assert engine.error and "main.rego" in engine.error
    assert "keeping the last good policy" in caplog.text

    main.write_text(HEADER + "decision := " + doc(allow=True))
    _touch_later(main)
    assert g.check(call()).verdict == "allow" and engine.error is None


def _touch_later(p: Path) -> None:
    # mtime resolution can be coarse: make sure the change is visible.
    st = p.stat()
    import os

    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    time.sleep(0.001)


def test_data_documents_load_by_folder_path_like_opa(tmp_path, decide) -> None:
    d = bundle(
        tmp_path,
        "decision := "
        + doc(allow=True)
        + " if { input.action in data.kitelogik.tools.allowed; data.limits.max == 3 }",
    )
    (d / "kitelogik" / "tools").mkdir()
    (d / "kitelogik" / "tools" / "data.json").write_text('{"allowed": ["read_file"]}')
    (d / "limits").mkdir()
    (d / "limits" / "data.yaml").write_text("max: 3\n")
    g = PolicyGate(policy_dir=d, audit=None)
    assert decide(g, call()).verdict == "allow"
    assert decide(g, call("write_file")).verdict == "deny"


def test_conflicting_data_documents_refuse_to_load(tmp_path, decide) -> None:
    d = bundle(tmp_path, "decision := " + doc(allow=True))
    (d / "data.json").write_text('{"kitelogik": {"x": 1}}')
    (d / "kitelogik" / "data.json").write_text('{"x": 2}')
    g = PolicyGate(policy_dir=d, audit=None)
    d1 = decide(g, call())
    assert d1.verdict == "deny" and "already defined" in d1.reason


def test_unsupported_builtin_is_refused_at_load_time(tmp_path, decide) -> None:
    g = gate_for(
        tmp_path, "decision := " + doc(allow=True) + ' if { crypto.sha256("x") == input.args.h }'
    )
    d = decide(g, call(h="x"))
    assert d.verdict == "deny" and "crypto.sha256" in d.reason and "main.rego:" in d.reason
