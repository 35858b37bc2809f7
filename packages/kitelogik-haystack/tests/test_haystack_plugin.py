"""kitelogik-haystack beyond the conformance kit, each through Haystack's real agent loop with a
scripted generator: calls that bypass the hook, sub-agents as agent.spawn, the per-run session
from hook_context, internal errors, what the model reads."""

from __future__ import annotations

from typing import Any

import pytest
from haystack.components.agents import Agent
from haystack.components.agents.state import State
from haystack.dataclasses import ChatMessage
from haystack.tools import ComponentTool, Tool
from kitelogik.events import SessionContext
from kitelogik.gate import PolicyGate
from kitelogik.testing.fakes import RecordingAudit, SideEffectLog, kit_engine
from kitelogik.testing.scenarios import Call, Turn, make_tools
from kitelogik_haystack import SESSION_KEY, Kitelogik
from kitelogik_haystack.testing import scripted_generator

CTX = SessionContext(session_id="s-1", agent_id="a", user_role="tester", session_scopes=("kit",))


def kit_tools(effects: SideEffectLog) -> list[Tool]:
    return [
        Tool(name=t.name, description=t.description, parameters=dict(t.parameters), function=t.fn)
        for t in make_tools(effects)
    ]


@pytest.fixture
def audit() -> RecordingAudit:
    return RecordingAudit()


@pytest.fixture
def gate(audit: RecordingAudit) -> PolicyGate:
    return PolicyGate(kit_engine(), audit=audit)


def test_wrapped_tool_without_the_hook_never_runs(gate, audit):
    """An agent given the governed tools but not the hook: no decision allows the call."""
    effects = SideEffectLog()
    kl = Kitelogik(gate, context=CTX)
    gen = scripted_generator([Turn(calls=(Call("lookup", {"key": "alpha"}, "c1"),))])
    agent = Agent(chat_generator=gen, tools=kl.tools(kit_tools(effects)))
    agent.run(messages=[ChatMessage.from_user("go")])
    assert effects.calls == []
    assert "no kitelogik decision allows this call" in gen.seen()["c1"]


def test_allow_for_one_call_does_not_run_another(gate):
    """A decision is consumed by the call it was made for; other arguments find none."""
    effects = SideEffectLog()
    kl = Kitelogik(gate, context=CTX)
    (lookup,) = [t for t in kl.tools(kit_tools(effects)) if t.name == "lookup"]
    assert kl.decide("lookup", {"key": "alpha"}, "c1", None).execute
    assert "no kitelogik decision" in lookup.invoke(key="secret")
    assert lookup.invoke(key="alpha") == "value-of-alpha"
    assert "no kitelogik decision" in lookup.invoke(key="alpha")  # used once
    assert effects.calls == [("lookup", {"key": "alpha"})]


def test_denial_reaches_the_model_as_an_error_result(gate, audit):
    effects = SideEffectLog()
    kl = Kitelogik(gate, context=CTX)
    gen = scripted_generator([Turn(calls=(Call("delete_record", {"record_id": "r"}, "c1"),))])
    agent = Agent(chat_generator=gen, tools=kl.tools(kit_tools(effects)), hooks=kl.hooks())
    out = agent.run(messages=[ChatMessage.from_user("go")])
    results = [r for m in out["messages"] for r in m.tool_call_results or []]
    assert len(results) == 1 and results[0].error
    assert str(results[0].result).startswith("[kitelogik] DENIED delete_record: kit: deleting")
    assert effects.calls == []
    assert [d.verdict for d in audit.decisions] == ["deny"]


def test_internal_error_is_a_deny(audit):
    class Broken(PolicyGate):
        def authorize(self, event: Any) -> Any:
            raise RuntimeError("boom")

    effects = SideEffectLog()
    kl = Kitelogik(Broken(kit_engine(), audit=audit), context=CTX)
    gen = scripted_generator([Turn(calls=(Call("lookup", {"key": "alpha"}, "c1"),))])
    agent = Agent(chat_generator=gen, tools=kl.tools(kit_tools(effects)), hooks=kl.hooks())
    agent.run(messages=[ChatMessage.from_user("go")])
    assert effects.calls == []
    assert "RuntimeError: boom" in gen.seen()["c1"]


def test_session_from_hook_context_wins(gate, audit):
    effects = SideEffectLog()
    kl = Kitelogik(gate, context=CTX)
    gen = scripted_generator([Turn(calls=(Call("lookup", {"key": "alpha"}, "c1"),))])
    agent = Agent(chat_generator=gen, tools=kl.tools(kit_tools(effects)), hooks=kl.hooks())
    run_ctx = SessionContext(session_id="per-run", user_role="tester", session_scopes=("kit",))
    agent.run(messages=[ChatMessage.from_user("go")], hook_context={SESSION_KEY: run_ctx})
    assert [d.session_id for d in audit.decisions] == ["per-run"]
    assert audit.decisions[0].input["context"]["framework"] == "haystack"


def test_sub_agent_component_tool_is_a_spawn(gate, audit):
    effects = SideEffectLog()
    child_kl = Kitelogik(gate, context=CTX)
    child = Agent(
        chat_generator=scripted_generator([Turn(calls=(Call("lookup", {"key": "beta"}, "k1"),))]),
        tools=child_kl.tools(kit_tools(effects)),
        hooks=child_kl.hooks(),
    )
    helper = ComponentTool(component=child, name="helper", description="A helper agent.")
    kl = Kitelogik(gate, context=CTX)
    gen = scripted_generator(
        [Turn(calls=(Call("helper", {"messages": [{"role": "user", "content": "x"}]}, "c1"),))]
    )
    parent = Agent(chat_generator=gen, tools=kl.tools([helper]), hooks=kl.hooks())
    parent.run(messages=[ChatMessage.from_user("go")])
    events = [(d.event_type, d.action) for d in audit.decisions]
    assert events[0] == ("agent.spawn", "helper")
    # The child's own tool call was decided by the child's hook, inside the spawned run.
    assert ("tool_call", "lookup") in events
    assert effects.calls == [("lookup", {"key": "beta"})]


def test_governed_tool_keeps_its_signature_for_state_injection(gate, audit):
    """Haystack injects the agent's State into a parameter annotated as State, reading the tool
    function's signature: the governed wrapper must keep it (and the policy sees only the
    model's arguments)."""
    got: list[Any] = []

    def note(text: str, state: State) -> str:
        got.append((text, type(state).__name__))
        return "noted"

    tool = Tool(
        name="lookup",
        description="Note something.",
        parameters={"type": "object", "properties": {"text": {"type": "string"}}},
        function=note,
    )
    kl = Kitelogik(gate, context=CTX)
    gen = scripted_generator([Turn(calls=(Call("lookup", {"text": "alpha"}, "c1"),))])
    agent = Agent(chat_generator=gen, tools=kl.tools([tool]), hooks=kl.hooks())
    agent.run(messages=[ChatMessage.from_user("go")])
    assert got == [("alpha", "State")]
    assert [dict(d.args) for d in audit.decisions] == [{"text": "alpha"}]
    assert [o.outcome for o in audit.outcomes] == ["ran"]
