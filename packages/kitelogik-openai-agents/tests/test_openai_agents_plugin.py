"""kitelogik-openai-agents beyond the conformance kit: handoffs, agents-as-tools, the RunState
approval path under attack, streaming, a stripped guardrail, malformed arguments. Every run goes
through the SDK's real Runner with ``agents.testing.ScriptedModel`` (no network)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from agents import (
    Agent,
    RunHooks,
    Runner,
    RunState,
    function_tool,
    handoff,
    set_tracing_disabled,
)
from agents.mcp import MCPServer
from agents.testing import ScriptedModel, assistant_message, function_call
from kitelogik.adapters import approval_answer
from kitelogik.gate import PolicyGate
from kitelogik.protocols import ApprovalResult
from kitelogik.testing.fakes import RecordingAudit, ScriptedApprover, SideEffectLog, kit_engine
from kitelogik_openai_agents import KitelogikGuardrail, govern
from kitelogik_openai_agents.testing import seen
from mcp.types import CallToolResult, TextContent
from mcp.types import Tool as MCPTool

set_tracing_disabled(True)


def make(effects: SideEffectLog) -> list[Any]:
    @function_tool
    def lookup(key: str) -> str:
        """Look up the value stored under a key."""
        effects.record("lookup", {"key": key})
        return f"value-of-{key}"

    @function_tool
    async def transfer(amount: int, to: str) -> str:
        """Transfer an amount of money to someone."""
        effects.record("transfer", {"amount": amount, "to": to})
        return f"transferred {amount} to {to}"

    @function_tool
    def delete_record(record_id: str) -> str:
        """Delete a record by id."""
        effects.record("delete_record", {"record_id": record_id})
        return f"deleted {record_id}"

    return [lookup, transfer, delete_record]


@pytest.fixture
def audit() -> RecordingAudit:
    return RecordingAudit()


@pytest.fixture
def effects() -> SideEffectLog:
    return SideEffectLog()


def gate(audit: RecordingAudit, approver: Any = None) -> PolicyGate:
    return PolicyGate(kit_engine(), audit=audit, approver=approver)


class Hooks(RunHooks[Any]):
    def __init__(self) -> None:
        self.started: list[str] = []

    async def on_tool_start(self, context: Any, agent: Any, tool: Any) -> None:
        self.started.append(tool.name)


async def test_denial_is_a_guardrail_rejection_the_model_reads(audit, effects):
    model = ScriptedModel(
        [
            [function_call("delete_record", {"record_id": "r-1"}, call_id="c1")],
            [assistant_message("ok")],
        ]
    )
    agent = govern(Agent(name="a", tools=make(effects), model=model), gate(audit))
    hooks = Hooks()
    result = await Runner.run(agent, "go", hooks=hooks)
    assert effects.calls == []
    assert hooks.started == []  # refused before on_tool_start
    assert seen(model)["c1"].startswith("[kitelogik] DENIED delete_record: kit: deleting")
    rejections = [r for r in result.tool_input_guardrail_results if r.guardrail.name == "kitelogik"]
    assert [r.output.behavior["type"] for r in rejections] == ["reject_content"]
    assert [d.verdict for d in audit.decisions] == ["deny"]


async def test_state_approve_without_a_bound_answer_never_runs(audit, effects):
    """Attack: approve the interruption on the RunState directly, bypassing kitelogik."""
    model = ScriptedModel(
        [
            [function_call("transfer", {"amount": 9000, "to": "mallory"}, call_id="c1")],
            [assistant_message("ok")],
        ]
    )
    guard = KitelogikGuardrail(gate(audit))
    agent = guard.govern(Agent(name="a", tools=make(effects), model=model))
    result = await Runner.run(agent, "go")
    assert [i.name for i in result.interruptions] == ["transfer"]
    state = result.to_state()
    state.approve(result.interruptions[0])
    result = await Runner.run(agent, state)
    assert effects.calls == []
    assert "[kitelogik] DENIED transfer" in seen(model)["c1"]
    assert [d.verdict for d in audit.decisions] == ["escalate"]
    assert [o.outcome for o in audit.outcomes] == ["skipped"]
    assert guard.pending() == 0


@pytest.mark.parametrize(
    "answer",
    [
        True,
        "approve",
        {"approved": True},
        ApprovalResult(True, "ok", ("x",), "r", None, "approved"),
        ApprovalResult(True, "ok", ("x",), "r", "0" * 64, "approved"),
    ],
)
async def test_unbound_answers_reject(audit, effects, answer):
    model = ScriptedModel(
        [
            [function_call("transfer", {"amount": 5, "to": "bob"}, call_id="c1")],
            [assistant_message("ok")],
        ]
    )
    guard = KitelogikGuardrail(gate(audit))
    agent = guard.govern(Agent(name="a", tools=make(effects), model=model))
    result = await Runner.run(agent, "go")
    state = result.to_state()
    resolved = await guard.aresolve(state, result.interruptions[0], answer)
    assert resolved is not None and resolved.verdict == "deny"
    await Runner.run(agent, state)
    assert effects.calls == []
    assert "[kitelogik] DENIED transfer" in seen(model)["c1"]


async def test_run_state_json_round_trip_then_bound_approval_runs_once(audit, effects):
    model = ScriptedModel(
        [
            [function_call("transfer", {"amount": 5, "to": "bob"}, call_id="c1")],
            [assistant_message("ok")],
        ]
    )
    guard = KitelogikGuardrail(gate(audit))
    agent = guard.govern(Agent(name="a", tools=make(effects), model=model))
    result = await Runner.run(agent, "go")
    blob = result.to_state().to_json()
    state = await RunState.from_json(agent, blob)
    [item] = state.get_interruptions()
    request = guard.approval_request(item)
    assert request is not None and request["args"] == {"amount": 5, "to": "bob"}
    answer = ScriptedApprover(["approve"]).answer(request)
    await guard.aresolve(state, item, approval_answer(answer))
    await Runner.run(agent, state)
    assert effects.calls == [("transfer", {"amount": 5, "to": "bob"})]
    assert [o.outcome for o in audit.outcomes] == ["ran"]
    assert audit.outcomes[0].decision.approval["digest"] == request["binding_digest"]


async def test_streamed_run_is_governed(audit, effects):
    model = ScriptedModel(
        [
            [
                function_call("lookup", {"key": "alpha"}, call_id="c1"),
                function_call("delete_record", {"record_id": "r-1"}, call_id="c2"),
            ],
            [assistant_message("ok")],
        ]
    )
    agent = govern(Agent(name="a", tools=make(effects), model=model), gate(audit))
    streamed = Runner.run_streamed(agent, "go")
    async for _ in streamed.stream_events():
        pass
    assert effects.calls == [("lookup", {"key": "alpha"})]
    assert "DENIED delete_record" in seen(model)["c2"]


async def test_a_stripped_guardrail_still_leaves_the_tool_body_governed(audit, effects):
    """Attack: someone removes the guardrail from a governed tool; the wrapped invoker decides."""
    model = ScriptedModel(
        [
            [
                function_call("lookup", {"key": "secret"}, call_id="c1"),
                function_call("lookup", {"key": "alpha"}, call_id="c2"),
            ],
            [assistant_message("ok")],
        ]
    )
    guard = KitelogikGuardrail(gate(audit))
    tools = [dataclasses.replace(guard.tool(t), tool_input_guardrails=[]) for t in make(effects)]
    agent = Agent(name="a", tools=tools, model=model)
    await Runner.run(agent, "go")
    assert effects.calls == [("lookup", {"key": "alpha"})]
    assert "DENIED lookup" in seen(model)["c1"]
    assert sorted(d.verdict for d in audit.decisions) == ["allow", "deny"]
    assert [o.outcome for o in audit.outcomes] == ["ran"]


@pytest.mark.parametrize("raw", ["[1, 2]", "not json", '"a string"'])
async def test_malformed_arguments_are_refused_even_when_a_human_approves(audit, effects, raw):
    """The SDK pauses calls whose arguments it cannot parse for a manual approval; even an
    approved one is refused by the guardrail, and nothing is decided on garbage."""
    model = ScriptedModel([[function_call("lookup", raw, call_id="c1")], [assistant_message("ok")]])
    guard = KitelogikGuardrail(gate(audit))
    agent = guard.govern(Agent(name="a", tools=make(effects), model=model))
    result = await Runner.run(agent, "go")
    [item] = result.interruptions
    assert guard.approval_request(item) is None  # not a kitelogik escalation
    state = result.to_state()
    human = ApprovalResult(True, "looks fine", ("h",), "r1", None, "approved")
    assert await guard.aresolve(state, item, human) is None
    await Runner.run(agent, state)
    assert effects.calls == []
    assert seen(model)["c1"].startswith("[kitelogik] DENIED lookup: tool arguments")
    assert audit.decisions == []


async def test_handoffs_are_decided_as_delegations(audit, effects):
    helper_model = ScriptedModel([[assistant_message("helper here")]])
    helper = Agent(name="helper", tools=make(effects), model=helper_model)
    intruder = Agent(name="intruder", model=ScriptedModel([[assistant_message("pwned")]]))
    triage_model = ScriptedModel(
        [
            [function_call("transfer_to_intruder", {}, call_id="h1")],
            [function_call("transfer_to_helper", {}, call_id="h2")],
        ]
    )
    triage = Agent(name="triage", handoffs=[intruder, handoff(helper)], model=triage_model)
    guard = KitelogikGuardrail(gate(audit))
    result = await Runner.run(guard.govern(triage), "help")
    # The refused handoff stays with triage and the model reads the reason as the call result.
    assert seen(triage_model)["h1"].startswith("[kitelogik] DENIED intruder: kit: agent")
    assert result.last_agent.name == "helper"
    assert result.final_output == "helper here"
    assert intruder.model.calls == ()  # type: ignore[union-attr]
    events = [(d.event_type, d.action, d.verdict) for d in audit.decisions]
    assert events == [("agent.delegate", "intruder", "deny"), ("agent.delegate", "helper", "allow")]
    assert [o.outcome for o in audit.outcomes] == ["ran"]
    # The agent the run was handed to is governed too.
    assert getattr(result.last_agent, "_kitelogik", None) is guard


async def test_handoff_target_tools_are_governed(audit, effects):
    helper_model = ScriptedModel(
        [
            [function_call("delete_record", {"record_id": "r-9"}, call_id="c1")],
            [assistant_message("done")],
        ]
    )
    helper = Agent(name="helper", tools=make(effects), model=helper_model)
    triage = Agent(
        name="triage",
        handoffs=[helper],
        model=ScriptedModel([[function_call("transfer_to_helper", {}, call_id="h1")]]),
    )
    await Runner.run(govern(triage, gate(audit)), "help")
    assert effects.calls == []
    assert "DENIED delete_record" in seen(helper_model)["c1"]


async def test_agents_as_tools_are_decided_as_spawns(audit, effects):
    researcher = Agent(
        name="researcher", model=ScriptedModel([[assistant_message("research result")]])
    )
    rogue_model = ScriptedModel([[assistant_message("rogue result")]])
    rogue = Agent(name="rogue", model=rogue_model)
    boss_model = ScriptedModel(
        [
            [
                function_call("ask_researcher", {"input": "q1"}, call_id="s1"),
                function_call("ask_rogue", {"input": "q2"}, call_id="s2"),
            ],
            [assistant_message("boss done")],
        ]
    )
    boss = Agent(
        name="boss",
        tools=[
            researcher.as_tool(tool_name="ask_researcher", tool_description="research"),
            rogue.as_tool(tool_name="ask_rogue", tool_description="rogue"),
        ],
        model=boss_model,
    )
    await Runner.run(govern(boss, gate(audit)), "go")
    got = seen(boss_model)
    assert got["s1"] == "research result"
    assert got["s2"].startswith("[kitelogik] DENIED rogue: kit: agent")
    assert rogue_model.calls == ()
    events = sorted((d.event_type, d.action, d.verdict) for d in audit.decisions)
    assert events == [("agent.spawn", "researcher", "allow"), ("agent.spawn", "rogue", "deny")]


def test_sync_run_with_approver_and_the_name_guardrail(audit, effects):
    """``guard.guardrail`` alone (decides by tool name) on a tool built by the user."""
    guard = KitelogikGuardrail(gate(audit, ScriptedApprover(["deny"])))
    lookup, transfer, _ = make(effects)
    tools = [
        dataclasses.replace(t, tool_input_guardrails=[guard.guardrail]) for t in (lookup, transfer)
    ]
    model = ScriptedModel(
        [
            [
                function_call("lookup", {"key": "alpha"}, call_id="c1"),
                function_call("transfer", {"amount": 1, "to": "eve"}, call_id="c2"),
            ],
            [assistant_message("ok")],
        ]
    )
    Runner.run_sync(Agent(name="a", tools=tools, model=model), "go")
    assert effects.calls == [("lookup", {"key": "alpha"})]
    assert "rejected by the kit reviewer" in seen(model)["c2"]


def test_govern_is_idempotent_and_leaves_the_original_alone(audit, effects):
    tools = make(effects)
    agent = Agent(name="a", tools=tools, model=ScriptedModel([]))
    guard = KitelogikGuardrail(gate(audit))
    governed = guard.govern(agent)
    assert guard.govern(agent) is governed
    assert guard.govern(governed) is governed
    assert agent.tools == tools and all(not t.tool_input_guardrails for t in agent.tools)
    assert all(
        [g.name for g in t.tool_input_guardrails or []] == ["kitelogik"] for t in governed.tools
    )


async def test_a_forgotten_escalation_is_refused_not_allowed(audit, effects, monkeypatch):
    """Attack: flood the pending store so an escalation is evicted, then approve it."""
    from kitelogik_openai_agents import guardrail

    monkeypatch.setattr(guardrail, "MAX_PENDING", 2)
    model = ScriptedModel(
        [
            [
                function_call("transfer", {"amount": 9000, "to": "mallory"}, call_id="c1"),
                function_call("lookup", {"key": "a"}, call_id="c2"),
                function_call("lookup", {"key": "b"}, call_id="c3"),
            ],
            [assistant_message("ok")],
        ]
    )
    guard = KitelogikGuardrail(gate(audit))
    agent = guard.govern(Agent(name="a", tools=make(effects), model=model))
    result = await Runner.run(agent, "go")
    [item] = result.interruptions
    assert guard.approval_request(item) is None  # evicted
    state = result.to_state()
    human = ApprovalResult(True, "sure", ("h",), "r1", "f" * 64, "approved")
    await guard.aresolve(state, item, human)  # passed through as approved: not ours any more
    await Runner.run(agent, state)
    assert ("transfer", {"amount": 9000, "to": "mallory"}) not in effects.calls
    assert "[kitelogik] DENIED transfer" in seen(model)["c1"]


class InProcessMCPServer(MCPServer):
    """A real MCPServer implementation answering in-process (no subprocess, no network)."""

    def __init__(self, effects: SideEffectLog) -> None:
        super().__init__()
        self.effects = effects

    @property
    def name(self) -> str:
        return "kit-mcp"

    async def connect(self) -> None:
        return None

    async def cleanup(self) -> None:
        return None

    async def list_tools(self, run_context: Any = None, agent: Any = None) -> list[MCPTool]:
        schema = {
            "type": "object",
            "properties": {"record_id": {"type": "string"}},
            "required": ["record_id"],
        }
        return [MCPTool(name="delete_record", inputSchema=schema)]

    async def call_tool(self, tool_name: str, arguments: Any, meta: Any = None) -> Any:
        self.effects.record(tool_name, arguments or {})
        return CallToolResult(content=[TextContent(type="text", text="deleted")])

    async def list_prompts(self) -> Any:
        raise NotImplementedError

    async def get_prompt(self, name: str, arguments: Any = None) -> Any:
        raise NotImplementedError


async def test_mcp_server_tools_are_governed(audit, effects):
    model = ScriptedModel(
        [
            [function_call("delete_record", {"record_id": "r-7"}, call_id="c1")],
            [assistant_message("ok")],
        ]
    )
    server = InProcessMCPServer(effects)
    agent = Agent(name="a", mcp_servers=[server], model=model)
    await Runner.run(govern(agent, gate(audit)), "go")
    assert effects.calls == []
    assert seen(model)["c1"].startswith("[kitelogik] DENIED delete_record: kit: deleting")
    # The same server without kitelogik runs the call: the plugin is what refused it.
    model2 = ScriptedModel(
        [
            [function_call("delete_record", {"record_id": "r-7"}, call_id="c1")],
            [assistant_message("ok")],
        ]
    )
    await Runner.run(Agent(name="a", mcp_servers=[server], model=model2), "go")
    assert effects.calls == [("delete_record", {"record_id": "r-7"})]


class SlowDenyingApprover:
    """An Approver that takes its time and then refuses (a human saying no after a while)."""

    def wait_for_approval(self, decision: Any, event: Any, timeout: float) -> ApprovalResult:
        raise AssertionError("the async path must be used inside the SDK")

    async def await_approval(self, decision: Any, event: Any, timeout: float) -> ApprovalResult:
        await asyncio.sleep(0.3)
        return ApprovalResult(False, "no, after thinking about it", ("h",), "r1", None, "denied")


async def test_a_slow_refusal_still_comes_before_the_tool(audit, effects):
    """No race: the guardrail is awaited before the tool (unlike agent input guardrails with
    run_in_parallel=True, where a slow tripwire let the first tool call run)."""
    model = ScriptedModel(
        [
            [function_call("transfer", {"amount": 5, "to": "bob"}, call_id="c1")],
            [assistant_message("ok")],
        ]
    )
    agent = govern(
        Agent(name="a", tools=make(effects), model=model), gate(audit, SlowDenyingApprover())
    )
    await Runner.run(agent, "go")
    assert effects.calls == []
    assert "no, after thinking about it" in seen(model)["c1"]


async def test_a_human_approving_the_tools_own_approval_cannot_override_a_deny(audit, effects):
    """The tool asks for approval itself (needs_approval=True); the policy denies the call. A
    human approving the tool's own interruption does not make the denied call run."""
    lookup, _, delete_record = make(effects)
    tools = [dataclasses.replace(t, needs_approval=True) for t in (lookup, delete_record)]
    model = ScriptedModel(
        [
            [
                function_call("delete_record", {"record_id": "r-1"}, call_id="c1"),
                function_call("lookup", {"key": "alpha"}, call_id="c2"),
            ],
            [assistant_message("ok")],
        ]
    )
    guard = KitelogikGuardrail(gate(audit))
    agent = guard.govern(Agent(name="a", tools=tools, model=model))
    result = await Runner.run(agent, "go")
    assert sorted(i.name for i in result.interruptions) == ["delete_record", "lookup"]
    state = result.to_state()
    human = ApprovalResult(True, "fine", ("h",), "r1", None, "approved")
    for item in result.interruptions:
        assert guard.approval_request(item) is None  # the tool's own approval, not kitelogik's
        await guard.aresolve(state, item, human)
    await Runner.run(agent, state)
    assert effects.calls == [("lookup", {"key": "alpha"})]
    assert seen(model)["c1"].startswith("[kitelogik] DENIED delete_record")
    assert sorted(d.verdict for d in audit.decisions) == ["allow", "deny"]
