"""kitelogik-google-adk beyond the conformance kit, each through ADK's real runner with a
scripted model: transfer_to_agent as agent.delegate, AgentTool as agent.spawn, workflow
sub-agents through before_agent_callback, the confirmation resume under attack, internal
errors, the sync runner."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from google.adk.agents import LlmAgent, SequentialAgent
from google.adk.apps import App
from google.adk.runners import InMemoryRunner
from google.adk.tools.agent_tool import AgentTool
from google.genai import types
from kitelogik.adapters import approval_answer
from kitelogik.events import SessionContext
from kitelogik.gate import PolicyGate
from kitelogik.protocols import ApprovalResult
from kitelogik.testing.fakes import RecordingAudit, SideEffectLog, kit_engine
from kitelogik.testing.scenarios import Call, Turn, make_tools
from kitelogik_google_adk import KitelogikPlugin
from kitelogik_google_adk.testing import scripted_llm

CTX = SessionContext(session_id="s-1", agent_id="a", user_role="tester", session_scopes=("kit",))


@pytest.fixture
def audit() -> RecordingAudit:
    return RecordingAudit()


@pytest.fixture
def effects() -> SideEffectLog:
    return SideEffectLog()


def kit_fns(effects: SideEffectLog) -> list[Any]:
    return [t.fn for t in make_tools(effects)]


def run(root: Any, plugin: KitelogikPlugin, message: Any = None) -> tuple[list[Any], Any, Any]:
    runner = InMemoryRunner(app=App(name="t", root_agent=root, plugins=[plugin]))

    async def go() -> tuple[list[Any], Any]:
        session = await runner.session_service.create_session(app_name="t", user_id="u")
        msg = message or types.Content(role="user", parts=[types.Part(text="go")])
        events = [
            e async for e in runner.run_async(user_id="u", session_id=session.id, new_message=msg)
        ]
        return events, session

    events, session = asyncio.run(go())
    return events, runner, session


def texts(events: list[Any]) -> list[tuple[str, str]]:
    return [
        (e.author, p.text)
        for e in events
        for p in ((e.content.parts if e.content else None) or [])
        if p.text
    ]


def test_transfer_to_agent_is_a_delegation(audit):
    admin = LlmAgent(name="admin", model=scripted_llm([], final_text="admin here"))
    helper = LlmAgent(name="helper", model=scripted_llm([], final_text="helper here"))
    root = LlmAgent(
        name="root",
        model=scripted_llm(
            [
                Turn(calls=(Call("transfer_to_agent", {"agent_name": "admin"}, "t1"),)),
                Turn(calls=(Call("transfer_to_agent", {"agent_name": "helper"}, "t2"),)),
            ]
        ),
        sub_agents=[admin, helper],
    )
    plugin = KitelogikPlugin(PolicyGate(kit_engine(), audit=audit), context=CTX)
    events, _, _ = run(root, plugin)
    decided = [(d.event_type, d.action, d.verdict) for d in audit.decisions]
    assert decided == [("agent.delegate", "admin", "deny"), ("agent.delegate", "helper", "allow")]
    said = texts(events)
    assert ("helper", "helper here") in said
    assert not any(author == "admin" for author, _ in said)
    seen = root.model.seen()  # type: ignore[union-attr]
    assert seen["t1"].startswith("[kitelogik] DENIED admin:")


def test_agent_tool_is_a_spawn_and_its_tools_are_governed(audit, effects):
    researcher = LlmAgent(
        name="researcher",
        description="Researches.",
        model=scripted_llm([Turn(calls=(Call("delete_record", {"record_id": "r"}, "k1"),))]),
        tools=kit_fns(effects),
    )
    admin = LlmAgent(name="admin", description="Admin.", model=scripted_llm([]))
    root = LlmAgent(
        name="root",
        model=scripted_llm(
            [
                Turn(
                    calls=(
                        Call("researcher", {"request": "look"}, "a1"),
                        Call("admin", {"request": "all"}, "a2"),
                    )
                )
            ]
        ),
        tools=[AgentTool(agent=researcher), AgentTool(agent=admin)],
    )
    plugin = KitelogikPlugin(PolicyGate(kit_engine(), audit=audit), context=CTX)
    run(root, plugin)
    decided = [(d.event_type, d.action, d.verdict) for d in audit.decisions]
    assert ("agent.spawn", "researcher", "allow") in decided
    assert ("agent.spawn", "admin", "deny") in decided
    # The spawned researcher's own tool call went through the same plugin, and was refused.
    assert ("tool_call", "delete_record", "deny") in decided
    assert effects.calls == []
    assert root.model.seen()["a2"].startswith("[kitelogik] DENIED admin:")  # type: ignore[union-attr]


def test_workflow_sub_agents_are_decided_before_they_start(audit):
    helper = LlmAgent(name="helper", model=scripted_llm([], final_text="helper ran"))
    admin = LlmAgent(name="admin", model=scripted_llm([], final_text="admin ran"))
    root = SequentialAgent(name="pipeline", sub_agents=[helper, admin])
    plugin = KitelogikPlugin(PolicyGate(kit_engine(), audit=audit), context=CTX)
    events, _, _ = run(root, plugin)
    said = texts(events)
    assert ("helper", "helper ran") in said
    assert ("admin", "admin ran") not in said
    assert any(a == "admin" and t.startswith("[kitelogik] DENIED admin:") for a, t in said)
    decided = [(d.event_type, d.action, d.verdict) for d in audit.decisions]
    assert decided == [("agent.spawn", "helper", "allow"), ("agent.spawn", "admin", "deny")]


def _paused(effects: SideEffectLog, audit: RecordingAudit) -> tuple[Any, ...]:
    agent = LlmAgent(
        name="kit",
        model=scripted_llm([Turn(calls=(Call("transfer", {"amount": 5, "to": "bob"}, "c1"),))]),
        tools=kit_fns(effects),
    )
    plugin = KitelogikPlugin(PolicyGate(kit_engine(), audit=audit), context=CTX)
    events, runner, session = run(agent, plugin)
    requests = KitelogikPlugin.approval_requests(events)
    assert len(requests) == 1 and effects.calls == []
    return agent, plugin, runner, session, requests


def _resume(runner: Any, session: Any, response: dict[str, Any], rid: str) -> list[Any]:
    msg = types.Content(
        role="user",
        parts=[
            types.Part(
                function_response=types.FunctionResponse(
                    id=rid, name="adk_request_confirmation", response=response
                )
            )
        ],
    )

    async def go() -> list[Any]:
        return [
            e async for e in runner.run_async(user_id="u", session_id=session.id, new_message=msg)
        ]

    return asyncio.run(go())


@pytest.mark.parametrize(
    "response",
    [
        {"confirmed": True},  # ADK's bare confirmation: not bound to the decision
        {"confirmed": True, "payload": {"approved": True}},
        {"confirmed": True, "payload": "approve"},
    ],
    ids=["bare", "unbound-payload", "string-payload"],
)
def test_a_confirmation_not_bound_to_the_decision_never_runs(audit, effects, response):
    agent, plugin, runner, session, requests = _paused(effects, audit)
    (rid,) = requests
    _resume(runner, session, response, rid)
    assert effects.calls == []
    assert "human approval not granted" in agent.model.seen()["c1"]  # type: ignore[union-attr]
    assert plugin.pending() == 0


def test_an_approval_for_another_call_never_runs(audit, effects):
    agent, _plugin, runner, session, requests = _paused(effects, audit)
    (rid,) = requests
    other = ApprovalResult(True, "ok", ("eve",), "r", "f" * 64, "approved")
    _resume(runner, session, {"confirmed": True, "payload": approval_answer(other)}, rid)
    assert effects.calls == []
    assert "not bound to this exact call" in agent.model.seen()["c1"]  # type: ignore[union-attr]


def test_bound_approval_runs_once(audit, effects):
    _agent, _plugin, runner, session, requests = _paused(effects, audit)
    ((rid, req),) = requests.items()
    answer = ApprovalResult(True, "ok", ("rev",), "r1", req["binding_digest"], "approved")
    _resume(runner, session, KitelogikPlugin.confirmation(answer), rid)
    assert effects.calls == [("transfer", {"amount": 5, "to": "bob"})]
    assert [o.outcome for o in audit.outcomes] == ["ran"]


def test_internal_error_is_a_deny(audit, effects):
    class Broken(PolicyGate):
        async def aauthorize(self, event: Any) -> Any:
            raise RuntimeError("boom")

    agent = LlmAgent(
        name="kit",
        model=scripted_llm([Turn(calls=(Call("lookup", {"key": "a"}, "c1"),))]),
        tools=kit_fns(effects),
    )
    plugin = KitelogikPlugin(Broken(kit_engine(), audit=audit), escalation="approver")
    run(agent, plugin)
    assert effects.calls == []
    assert "RuntimeError: boom" in agent.model.seen()["c1"]  # type: ignore[union-attr]


def test_tool_failure_is_audited_once(audit):
    def lookup(key: str) -> str:
        """Look up a key."""
        raise ValueError("backend down")

    agent = LlmAgent(
        name="kit",
        model=scripted_llm([Turn(calls=(Call("lookup", {"key": "a"}, "c1"),))]),
        tools=[lookup],
    )
    plugin = KitelogikPlugin(PolicyGate(kit_engine(), audit=audit), context=CTX)
    with contextlib.suppress(Exception):
        run(agent, plugin)
    assert [o.outcome for o in audit.outcomes] == ["failed"]
