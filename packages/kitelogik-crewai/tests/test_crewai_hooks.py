"""CrewAI specific behaviour (the kit covers the shared promises): delegation tools as
agent.delegate, the ReAct text path, fail-closed on every internal error (CrewAI itself would
swallow it and run the tool), registration, task steps, a hook changing the input afterwards."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from crewai import Agent, Crew, Task
from crewai.hooks import HookAborted, InterceptionPoint
from crewai.hooks.dispatch import get_hooks, register, register_scoped, unregister
from crewai.tools import tool
from kitelogik.events import SessionContext
from kitelogik.gate import PolicyGate
from kitelogik.testing.fakes import FailingEngine, RecordingAudit, SideEffectLog, kit_engine
from kitelogik.testing.scenarios import Call, Turn, make_tools
from kitelogik_crewai import KitelogikHooks
from kitelogik_crewai.hooks import coworker_name
from kitelogik_crewai.testing import ScriptedLLM

CTX = SessionContext(session_id="crewai-test", session_scopes=("kit",))


def kit(engine: Any = None) -> tuple[PolicyGate, RecordingAudit, SideEffectLog, list[Any]]:
    effects = SideEffectLog()
    audit = RecordingAudit()
    gate = PolicyGate(engine or kit_engine(), audit=audit)
    return gate, audit, effects, [tool(t.name)(t.fn) for t in make_tools(effects)]


def crew(llm: ScriptedLLM, tools: list[Any]) -> Crew:
    agent = Agent(role="kit agent", goal="g", backstory="b", llm=llm, tools=tools, max_iter=6)
    return Crew(agents=[agent], tasks=[Task(description="go", expected_output="e", agent=agent)])


def one_call(name: str, args: dict[str, Any]) -> list[Turn]:
    return [Turn(calls=(Call(name, args, "c1"),)), Turn(text="done")]


def test_delegation_tools_are_decided_as_delegations() -> None:
    gate, audit, _, _ = kit()
    asked: list[str] = []

    def script(messages: list[Any], agent: Any) -> Turn:
        if agent.role != "manager":
            asked.append(agent.role)
            return Turn(text=f"answer from {agent.role}")
        if any(isinstance(m, dict) and m.get("role") == "tool" for m in messages):
            return Turn(text="manager done")
        return Turn(
            calls=(
                Call(
                    "delegate_work_to_coworker",
                    {"task": "dig", "context": "c", "coworker": '  "RESEARCHER" '},
                    "d1",
                ),
                Call(
                    "ask_question_to_coworker",
                    {"question": "q?", "context": "c", "coworker": "Admin"},
                    "d2",
                ),
            )
        )

    llm = ScriptedLLM.from_function(script)
    manager = Agent(role="manager", goal="g", backstory="b", llm=llm, allow_delegation=True)
    researcher = Agent(role="Researcher", goal="g", backstory="b", llm=llm)
    admin = Agent(role="Admin", goal="g", backstory="b", llm=llm)
    c = Crew(
        agents=[manager, researcher, admin],
        tasks=[Task(description="go", expected_output="e", agent=manager)],
    )
    with KitelogikHooks(gate, context=CTX).scoped():
        c.kickoff()
    assert asked == ["Researcher"]  # the admin agent never ran
    decisions = sorted((d.event_type, d.action, d.verdict) for d in audit.decisions)
    assert decisions == [
        ("agent.delegate", "admin", "deny"),
        ("agent.delegate", "researcher", "allow"),
    ]
    assert all(d.input["context"]["agent_id"] == "manager" for d in audit.decisions)
    seen = llm.seen()
    assert 'DENIED admin: kit: agent "admin" is not allowed' in seen["d2"]
    assert "answer from Researcher" in seen["d1"]


def test_coworker_names_are_matched_as_crewai_matches_them() -> None:
    assert coworker_name({"coworker": '  "Senior\n  Researcher" '}) == "senior researcher"
    assert coworker_name({"coworker": "[Admin, Researcher]"}) == "admin"
    assert coworker_name({"co_worker": "X"}) == "x"
    assert coworker_name({"coworker": 3}) == ""


def test_react_path_denial_reaches_the_model() -> None:
    gate, audit, effects, tools = kit()
    llm = ScriptedLLM.from_turns(
        [
            Turn(calls=(Call("lookup", {"key": "alpha"}, "r1"),)),
            Turn(calls=(Call("lookup", {"key": "secret"}, "r2"),)),
            Turn(text="finished"),
        ],
        react=True,
    )
    with KitelogikHooks(gate, context=CTX).scoped():
        out = crew(llm, tools).kickoff()
    assert out.raw == "finished"
    assert effects.calls == [("lookup", {"key": "alpha"})]
    text = json.dumps(llm.requests[-1])
    assert "value-of-alpha" in text
    assert "[kitelogik] DENIED lookup: kit: the key 'secret' may not be looked up" in text
    assert "Tool execution blocked by hook" not in text
    assert [d.verdict for d in audit.decisions] == ["allow", "deny"]


class BrokenGate(PolicyGate):
    def authorize(self, event: Any) -> Any:
        raise RuntimeError("gate exploded")


@pytest.mark.parametrize("react", [False, True])
def test_every_internal_error_is_a_deny(react: bool) -> None:
    """CrewAI swallows a hook's exception and runs the tool: the hooks must refuse instead."""
    effects = SideEffectLog()
    tools = [tool(t.name)(t.fn) for t in make_tools(effects)]
    broken = BrokenGate(kit_engine(), audit=None)
    llm = ScriptedLLM.from_turns(one_call("lookup", {"key": "a"}), react=react)
    with KitelogikHooks(broken, context=CTX).scoped():
        crew(llm, tools).kickoff()
    assert effects.calls == []
    assert "[kitelogik] DENIED lookup: gate exploded" in json.dumps(llm.requests)

    def no_session() -> SessionContext:
        raise LookupError("no session store")

    gate, _, effects2, tools2 = kit()
    llm = ScriptedLLM.from_turns(one_call("lookup", {"key": "a"}), react=react)
    with KitelogikHooks(gate, context=no_session).scoped():
        crew(llm, tools2).kickoff()
    assert effects2.calls == []
    assert "no session store" in json.dumps(llm.requests)


def test_failing_engine_denies_on_both_paths() -> None:
    for react in (False, True):
        gate, audit, effects, tools = kit(FailingEngine())
        llm = ScriptedLLM.from_turns(one_call("lookup", {"key": "a"}), react=react)
        with KitelogikHooks(gate, context=CTX).scoped():
            crew(llm, tools).kickoff()
        assert effects.calls == []
        assert "policy engine error" in json.dumps(llm.requests)
        assert [d.verdict for d in audit.decisions] == ["deny"]


def test_registration_is_explicit_and_reversible() -> None:
    gate, _, effects, tools = kit()
    hooks = KitelogikHooks(gate, context=CTX)
    assert get_hooks(InterceptionPoint.PRE_TOOL_CALL) == []
    hooks.register().register()  # idempotent
    assert get_hooks(InterceptionPoint.PRE_TOOL_CALL) == [hooks.before_tool_call]
    assert get_hooks(InterceptionPoint.POST_TOOL_CALL) == [hooks.after_tool_call]
    hooks.unregister()
    assert get_hooks(InterceptionPoint.PRE_TOOL_CALL) == []
    seen_registered: list[bool] = []

    def failing_crew() -> None:
        with hooks.installed():
            seen_registered.append(hooks.registered)
            raise RuntimeError("crew failed")

    with pytest.raises(RuntimeError):
        failing_crew()
    assert seen_registered == [True]
    assert not hooks.registered and get_hooks(InterceptionPoint.PRE_TOOL_CALL) == []
    # Unregistered, nothing is governed any more (CrewAI runs the tool).
    crew(ScriptedLLM.from_turns(one_call("delete_record", {"record_id": "r"})), tools).kickoff()
    assert effects.calls == [("delete_record", {"record_id": "r"})]


def test_scoped_hooks_govern_only_their_own_context() -> None:
    gate, _, effects, tools = kit()
    other: list[Any] = []
    with KitelogikHooks(gate, context=CTX).scoped():
        # A crew in another thread (a fresh context) is outside the scope.
        t = threading.Thread(
            target=lambda: other.append(
                crew(ScriptedLLM.from_turns(one_call("lookup", {"key": "secret"})), tools).kickoff()
            )
        )
        t.start()
        t.join()
        crew(ScriptedLLM.from_turns(one_call("delete_record", {"record_id": "r"})), tools).kickoff()
    assert effects.calls == [("lookup", {"key": "secret"})]


def test_a_hook_changing_the_input_after_the_decision_is_audited() -> None:
    gate, audit, effects, tools = kit()

    def tamper(ctx: Any) -> None:
        ctx.tool_input["key"] = "secret"

    hooks = KitelogikHooks(gate, context=CTX)
    with hooks.installed():
        from crewai.hooks.dispatch import scoped_hooks

        with scoped_hooks():  # scoped hooks run after global ones
            register_scoped(InterceptionPoint.PRE_TOOL_CALL, tamper)
            crew(ScriptedLLM.from_turns(one_call("lookup", {"key": "alpha"})), tools).kickoff()
    assert effects.calls == [("lookup", {"key": "secret"})]
    [outcome] = audit.outcomes
    assert outcome.outcome == "failed"
    assert "tool input changed after the decision" in (outcome.error or "")


def test_an_earlier_hook_changing_the_input_is_decided_on_the_changed_input() -> None:
    gate, audit, effects, tools = kit()

    def rewrite(ctx: Any) -> None:
        ctx.tool_input["key"] = "secret"

    register(InterceptionPoint.PRE_TOOL_CALL, rewrite)  # before ours
    try:
        with KitelogikHooks(gate, context=CTX).installed():
            crew(ScriptedLLM.from_turns(one_call("lookup", {"key": "alpha"})), tools).kickoff()
    finally:
        unregister(InterceptionPoint.PRE_TOOL_CALL, rewrite)
    assert effects.calls == []
    assert [(d.args["key"], d.verdict) for d in audit.decisions] == [("secret", "deny")]


POLICY = """
package kitelogik.main

import rego.v1

denied if {
    input.event_type == "plan"
    contains(input.action, "forbidden")
}

default denied := false

default allowed := false

allowed if not denied

decision := {
    "allow": allowed, "deny": denied, "requires_hitl": false,
    "reasons": ["test: forbidden step"], "rules": [], "risk_tier": "low", "obligations": {},
}
"""


def test_task_steps_are_decided_when_enabled(tmp_path: Path) -> None:
    (tmp_path / "main.rego").write_text(POLICY)
    audit = RecordingAudit()
    gate = PolicyGate(policy_dir=tmp_path, audit=audit)
    llm = ScriptedLLM.from_turns([Turn(text="ok")])
    agent = Agent(role="worker", goal="g", backstory="b", llm=llm)
    allowed = Crew(
        agents=[agent],
        tasks=[Task(description="fine", expected_output="e", agent=agent, name="report task")],
    )
    forbidden = Crew(
        agents=[agent],
        tasks=[Task(description="bad", expected_output="e", agent=agent, name="forbidden task")],
    )
    with KitelogikHooks(gate, context=CTX, steps=True).scoped():
        assert allowed.kickoff().raw == "ok"
        with pytest.raises(HookAborted, match="forbidden step"):
            forbidden.kickoff()
    assert len(llm.requests) == 1  # the forbidden task never reached the model
    plans = [(d.event_type, d.action, d.verdict) for d in audit.decisions]
    assert plans == [("plan", "report task", "allow"), ("plan", "forbidden task", "deny")]
    assert audit.decisions[0].input["plan"]["steps"][0]["args"]["agent"] == "worker"
