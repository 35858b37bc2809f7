"""The governed Dify strategy beyond the conformance kit, each through its real entry point
(``invoke``) with a scripted session: malformed and unknown calls, the node's runtime
parameters, internal and tool errors, the run-log records, the session the policy sees."""

from __future__ import annotations

from typing import Any

import pytest
from dify_plugin.entities.agent import AgentRuntime
from dify_plugin.entities.model.llm import LLMResult, LLMUsage
from dify_plugin.entities.model.message import AssistantPromptMessage
from kitelogik.events import SessionContext
from kitelogik.gate import PolicyGate
from kitelogik.testing.fakes import RecordingAudit, SideEffectLog, kit_engine
from kitelogik.testing.scenarios import Call, Turn, make_tools
from kitelogik_dify import GovernedFunctionCalling
from kitelogik_dify.testing import ScriptedSession, model_params, tool_entity

CTX = SessionContext(session_id="s-1", agent_id="a", user_role="tester", session_scopes=("kit",))


@pytest.fixture
def audit() -> RecordingAudit:
    return RecordingAudit()


def run(
    session: ScriptedSession,
    gate: PolicyGate,
    tools: list[dict[str, Any]],
    *,
    context: Any = CTX,
    **params: Any,
) -> list[Any]:
    strategy = GovernedFunctionCalling(runtime=AgentRuntime(user_id="u"), session=session)  # type: ignore[arg-type]
    strategy.gate = gate
    strategy.context = context
    return list(strategy.invoke({"query": "go", "model": model_params(), "tools": tools, **params}))


def kit(effects: SideEffectLog) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    specs = make_tools(effects)
    return {t.name: t.fn for t in specs}, [
        tool_entity(t.name, t.description, t.parameters) for t in specs
    ]


def records(out: list[Any]) -> list[dict[str, Any]]:
    return [m.message.json_object["kitelogik"] for m in out if m.type.value == "json"]


class RawSession(ScriptedSession):
    """The model answers with raw (possibly malformed) argument strings."""

    def __init__(self, raw: str, functions: Any) -> None:
        super().__init__([], functions)
        llm = self.model.llm
        first = AssistantPromptMessage(
            content="",
            tool_calls=[
                AssistantPromptMessage.ToolCall(
                    id="c1",
                    type="function",
                    function=AssistantPromptMessage.ToolCall.ToolCallFunction(
                        name="lookup", arguments=raw
                    ),
                )
            ],
        )

        def invoke(**kw: Any) -> LLMResult:
            llm.requests.append(list(kw["prompt_messages"]))
            message = first if len(llm.requests) == 1 else AssistantPromptMessage(content="ok")
            return LLMResult(model="raw", message=message, usage=LLMUsage.empty_usage())

        llm.invoke = invoke  # type: ignore[method-assign]


@pytest.mark.parametrize("raw", ['["key", "alpha"]', "{not json", '"alpha"'])
def test_arguments_that_are_not_an_object_never_run(audit, raw):
    effects = SideEffectLog()
    functions, tools = kit(effects)
    session = RawSession(raw, functions)
    out = run(session, PolicyGate(kit_engine(), audit=audit), tools)
    assert effects.calls == [] and session.tool.invocations == []
    assert session.seen()["c1"].startswith("[kitelogik] DENIED lookup:")
    assert records(out)[0]["verdict"] == "deny"


def test_unknown_tool_is_not_invoked(audit):
    effects = SideEffectLog()
    functions, tools = kit(effects)
    session = ScriptedSession([Turn(calls=(Call("rm_rf", {"path": "/"}, "c1"),))], functions)
    run(session, PolicyGate(kit_engine(), audit=audit), tools)
    assert session.tool.invocations == []
    assert "no such tool" in session.seen()["c1"]


def test_runtime_parameters_are_decided_with_the_call(audit):
    """The node's configured (runtime) parameters reach the tool, so the policy sees them too:
    a configured key the policy forbids is refused even though the model never sent it."""
    effects = SideEffectLog()
    functions, tools = kit(effects)
    tools[0]["runtime_parameters"] = {"key": "secret"}  # lookup, configured in the node
    session = ScriptedSession([Turn(calls=(Call("lookup", {}, "c1"),))], functions)
    run(session, PolicyGate(kit_engine(), audit=audit), tools)
    assert effects.calls == []
    assert "kit: the key 'secret' may not be looked up" in session.seen()["c1"]
    assert [dict(d.args) for d in audit.decisions] == [{"key": "secret"}]


def test_internal_error_is_a_deny(audit):
    class Broken(PolicyGate):
        def authorize(self, event: Any) -> Any:
            raise RuntimeError("boom")

    effects = SideEffectLog()
    functions, tools = kit(effects)
    session = ScriptedSession([Turn(calls=(Call("lookup", {"key": "a"}, "c1"),))], functions)
    out = run(session, Broken(kit_engine(), audit=audit), tools)
    assert effects.calls == [] and session.tool.invocations == []
    assert "RuntimeError: boom" in session.seen()["c1"]
    assert records(out)[0]["verdict"] == "deny"


def test_tool_failure_is_audited_and_the_loop_goes_on(audit):
    def lookup(key: str) -> str:
        raise ValueError("backend down")

    session = ScriptedSession(
        [Turn(calls=(Call("lookup", {"key": "a"}, "c1"),))], {"lookup": lookup}
    )
    tools = [tool_entity("lookup", "Look up.", {"properties": {"key": {"type": "string"}}})]
    out = run(session, PolicyGate(kit_engine(), audit=audit), tools)
    assert "tool error: ValueError: backend down" in session.seen()["c1"]
    assert [o.outcome for o in audit.outcomes] == ["failed"]
    assert out[-1].message.text == "done"


def test_session_from_the_dify_run_and_node_settings(audit):
    effects = SideEffectLog()
    functions, tools = kit(effects)
    session = ScriptedSession(
        [Turn(calls=(Call("lookup", {"key": "a"}, "c1"),))], functions, conversation_id="conv-9"
    )
    run(
        session,
        PolicyGate(kit_engine(), audit=audit),
        tools,
        context=None,
        kitelogik_role="support",
        kitelogik_scopes="kit, fs:read",
    )
    (d,) = audit.decisions
    ctx = d.input["context"]
    assert d.session_id == "conv-9"
    assert ctx["user_role"] == "support" and ctx["framework"] == "dify"
    assert set(ctx["session_scopes"]) == {"kit", "fs:read"}


def test_every_decision_is_in_the_run_log(audit):
    effects = SideEffectLog()
    functions, tools = kit(effects)
    session = ScriptedSession(
        [
            Turn(
                calls=(
                    Call("lookup", {"key": "a"}, "c1"),
                    Call("delete_record", {"record_id": "r"}, "c2"),
                )
            )
        ],
        functions,
    )
    out = run(session, PolicyGate(kit_engine(), audit=audit), tools)
    recs = records(out)
    assert [(r["tool"], r["verdict"]) for r in recs] == [
        ("lookup", "allow"),
        ("delete_record", "deny"),
    ]
    assert [r["decision_id"] for r in recs] == [d.id for d in audit.decisions]
