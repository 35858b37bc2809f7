"""The conformance kit itself: a reference adapter (a plain agent loop over the shared plumbing in
kitelogik.adapters) passes it, and adapters with the classic mistakes fail it."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from kitelogik import adapters
from kitelogik.testing.conformance import AdapterConformance, Harness, Transcript
from kitelogik.testing.fakes import ScriptedApprover
from kitelogik.testing.scenarios import SCENARIOS

# -------------------------------------------------------------------------- a reference loop


class _Loop:
    """A minimal agent loop: the scripted model emits turns; each turn's tool results are what
    the model 'receives' before the next turn."""

    @staticmethod
    def run(h: Harness, call_tool: Any) -> Transcript:
        t = Transcript()
        for turn in h.script:
            for c in turn.calls:
                t.seen[c.id] = str(call_tool(h, c))
            if turn.text is not None:
                t.final = turn.text
        return t

    @staticmethod
    async def arun(h: Harness, call_tool: Any) -> Transcript:
        t = Transcript()
        for turn in h.script:
            for c in turn.calls:
                t.seen[c.id] = str(await call_tool(h, c))
            if turn.text is not None:
                t.final = turn.text
        return t


def _event(h: Harness, c: Any) -> Any:
    return adapters.tool_call_event(
        c.name,
        adapters.parse_arguments(json.dumps(dict(c.args))),
        context=h.context,
        framework="reference",
    )


def good_call(h: Harness, c: Any) -> Any:
    tool = h.tool(c.name)
    return adapters.govern(h.gate, _event(h, c), lambda a: tool.fn(**a), lambda msg, d: msg)


async def agood_call(h: Harness, c: Any) -> Any:
    tool = h.tool(c.name)
    return await adapters.agovern(h.gate, _event(h, c), lambda a: tool.afn(**a), lambda msg, d: msg)


class ReferenceAdapter(AdapterConformance):
    def run(self, h: Harness) -> Transcript:
        return _Loop.run(h, good_call)

    async def arun(self, h: Harness) -> Transcript:
        return await _Loop.arun(h, agood_call)


class TestReferenceConformance(ReferenceAdapter):
    """The kit's own tests, run against the reference adapter."""


class InterruptReference(AdapterConformance):
    """Interrupt style: check, park the escalation, ask the human, resolve with the answer."""

    approval_style = "interrupt"

    def run(self, h: Harness) -> Transcript:
        def call(h: Harness, c: Any) -> Any:
            tool = h.tool(c.name)
            event = _event(h, c)
            d = h.gate.check(event)
            if d.verdict == "escalate":
                answer = adapters.approval_answer(
                    h.approve(adapters.approval_request(d, call_id=c.id))
                )
                d = adapters.resolve_approval(h.gate, d, answer)
            if not d.allowed:
                return adapters.denial_message(d)
            return adapters.run_allowed(h.gate, d, lambda a: tool.fn(**a))

        return _Loop.run(h, call)

    async def arun(self, h: Harness) -> Transcript:
        async def call(h: Harness, c: Any) -> Any:
            tool = h.tool(c.name)
            event = _event(h, c)
            d = await h.gate.acheck(event)
            if d.verdict == "escalate":
                answer = adapters.approval_answer(
                    h.approve(adapters.approval_request(d, call_id=c.id))
                )
                d = await adapters.aresolve_approval(h.gate, d, answer)
            if not d.allowed:
                return adapters.denial_message(d)
            return await adapters.arun_allowed(h.gate, d, lambda a: tool.afn(**a))

        return await _Loop.arun(h, call)


class TestInterruptReferenceConformance(InterruptReference):
    pass


# -------------------------------------------------------------------------- broken adapters


class IgnoresVerdict(ReferenceAdapter):
    def run(self, h: Harness) -> Transcript:
        def call(h: Harness, c: Any) -> Any:
            h.gate.authorize(_event(h, c))
            return h.tool(c.name).fn(**c.args)

        return _Loop.run(h, call)


class BypassesInvoke(ReferenceAdapter):
    """Decides correctly but runs the tool outside gate.invoke (no nested guard, no outcome)."""

    def run(self, h: Harness) -> Transcript:
        def call(h: Harness, c: Any) -> Any:
            d = h.gate.authorize(_event(h, c))
            return h.tool(c.name).fn(**c.args) if d.allowed else adapters.denial_message(d)

        return _Loop.run(h, call)


class AsyncUngoverned(ReferenceAdapter):
    async def arun(self, h: Harness) -> Transcript:
        async def call(h: Harness, c: Any) -> Any:
            return await h.tool(c.name).afn(**c.args)

        return await _Loop.arun(h, call)


class SilentDenial(ReferenceAdapter):
    """Refuses correctly but tells the model nothing useful."""

    def run(self, h: Harness) -> Transcript:
        def call(h: Harness, c: Any) -> Any:
            tool = h.tool(c.name)
            return adapters.govern(
                h.gate, _event(h, c), lambda a: tool.fn(**a), lambda msg, d: "error"
            )

        return _Loop.run(h, call)


class TrustsBareApproval(InterruptReference):
    """Interrupt style that treats any truthy resume value as an approval."""

    def run(self, h: Harness) -> Transcript:
        def call(h: Harness, c: Any) -> Any:
            tool = h.tool(c.name)
            d = h.gate.check(_event(h, c))
            if d.verdict == "escalate":
                if not h.approve(adapters.approval_request(d, call_id=c.id)).approved:
                    return adapters.denial_message(d)
                d = dataclasses.replace(d, verdict="allow")  # no digest check: the bug
            if not d.allowed:
                return adapters.denial_message(d)
            return adapters.run_allowed(h.gate, d, lambda a: tool.fn(**a))

        return _Loop.run(h, call)


@pytest.mark.parametrize(
    ("adapter", "scenario_id", "mode"),
    [
        (IgnoresVerdict, "deny", "sync"),
        (IgnoresVerdict, "escalate-deny", "sync"),
        (IgnoresVerdict, "engine-failure", "sync"),
        (BypassesInvoke, "nested", "sync"),
        (BypassesInvoke, "allow", "sync"),
        (AsyncUngoverned, "deny", "async"),
        (AsyncUngoverned, "escalate-expire", "async"),
        (SilentDenial, "deny", "sync"),
        (TrustsBareApproval, "escalate-forged", "sync"),
    ],
)
def test_kit_catches_broken_adapter(adapter: type, scenario_id: str, mode: str) -> None:
    with pytest.raises(AssertionError):
        adapter().execute(scenario_id, mode)


def test_every_scenario_is_exercised_by_a_kit_test() -> None:
    import inspect

    src = inspect.getsource(AdapterConformance)
    for s in SCENARIOS:
        assert f'"{s.id}"' in src, s.id


def test_overriding_a_kit_test_needs_xfail_with_reason() -> None:
    with pytest.raises(TypeError, match="xfail"):

        class Sneaky(ReferenceAdapter):
            def test_denied_call_never_runs_and_model_gets_reason(self, mode: str) -> None:
                pass

    with pytest.raises(TypeError, match="xfail"):

        class NoReason(ReferenceAdapter):
            @pytest.mark.xfail
            def test_parallel_calls_each_decided(self, mode: str) -> None:
                pass

    class Declared(ReferenceAdapter):
        @pytest.mark.xfail(reason="framework runs parallel calls as one batch", strict=True)
        def test_parallel_calls_each_decided(self, mode: str) -> None:
            raise AssertionError

    assert Declared.test_parallel_calls_each_decided.pytestmark[0].name == "xfail"

    with pytest.raises(TypeError, match="reason"):

        class BadModes(ReferenceAdapter):
            unsupported_modes = {"sync": ""}


def test_scripted_approver_answers() -> None:
    a = ScriptedApprover(["approve", "forge", "unbound", "deny", "expire"])
    req = {"binding_digest": "d" * 64}
    results = [a.answer(req) for _ in range(6)]
    assert [r.approved for r in results] == [True, True, True, False, False, False]
    assert results[0].digest == "d" * 64
    assert results[1].digest != "d" * 64
    assert results[2].digest is None
    assert results[4].status == "expired"
    with pytest.raises(ValueError):
        ScriptedApprover(["yes"])


def test_resolve_approval_refuses_unbound_answers() -> None:
    from kitelogik.gate import PolicyGate
    from kitelogik.testing.fakes import RecordingAudit, kit_engine

    audit = RecordingAudit()
    gate = PolicyGate(kit_engine(), audit=audit)
    d = gate.check(adapters.tool_call_event("transfer", {"amount": 1, "to": "x"}, framework="t"))
    assert d.verdict == "escalate"
    for answer in (
        True,
        "approve",
        {"approved": True},
        None,
        {"kitelogik": "approval_answer", "approved": True, "digest": "0" * 64},
        {"kitelogik": "approval_answer", "approved": "yes", "digest": d.binding_digest},
    ):
        r = adapters.resolve_approval(gate, d, answer)
        assert r.verdict == "deny", answer
    ok = adapters.resolve_approval(
        gate, d, {"kitelogik": "approval_answer", "approved": True, "digest": d.binding_digest}
    )
    assert ok.allowed
    assert ok.approval["digest"] == d.binding_digest
    assert all(o.outcome == "skipped" for o in audit.outcomes)


def test_parse_arguments_refuses_non_objects() -> None:
    assert adapters.parse_arguments('{"a": [1]}') == {"a": [1]}
    assert adapters.parse_arguments(None) == {}
    assert adapters.parse_arguments("") == {}
    for bad in ("[1]", "1", "nope", '"s"', "{"):
        with pytest.raises(adapters.ArgumentsError):
            adapters.parse_arguments(bad)


def test_pending_escalations_match_exact_call() -> None:
    p = adapters.PendingEscalations()
    from kitelogik.gate import PolicyGate
    from kitelogik.testing.fakes import kit_engine

    gate = PolicyGate(kit_engine(), audit=None)
    e1 = adapters.tool_call_event("transfer", {"amount": 1, "to": "x"}, framework="t")
    e2 = adapters.tool_call_event("transfer", {"amount": 2, "to": "x"}, framework="t")
    d = gate.check(e1)
    p.put("run", "c1", e1, d)
    assert p.get("run", "c1", e1) is d
    assert p.get("run", "c1", e2) is None  # same id, different call: never reused
    assert p.get("other", "c1", e1) is None
    p.pop("run", "c1")
    assert p.get("run", "c1", e1) is None


def test_require_reports_unsupported_versions() -> None:
    # kitelogik-core's own metadata declares httpx>=0.27,<1: a satisfied range passes.
    assert adapters.satisfies("httpx>=0.27,<1", "0.28.1")
    assert not adapters.satisfies("httpx>=0.27,<1", "1.0")
    assert not adapters.satisfies("httpx>=0.27,<1", None)
    assert adapters.require("kitelogik-core", "httpx")
    with pytest.raises(adapters.UnsupportedFramework, match="not installed"):
        adapters.require("kitelogik-core", "surely-not-installed-framework")
    err = adapters.UnsupportedFramework("kitelogik-x", "x>=2,<3", "1.5")
    assert "x>=2,<3" in str(err)
    assert "1.5 is installed" in str(err)
    assert "pip install" in str(err)
    assert isinstance(err, ImportError)
