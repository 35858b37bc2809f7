"""kitelogik-openai specifics: schemas from functions, malformed and unknown calls, tool errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest
from kitelogik.gate import PolicyGate
from kitelogik.testing.fakes import RecordingAudit, SideEffectLog, kit_engine
from kitelogik.testing.scenarios import make_tools
from kitelogik_openai import GovernedTools, function_schema


def kit() -> tuple[GovernedTools, SideEffectLog, RecordingAudit]:
    effects = SideEffectLog()
    audit = RecordingAudit()
    tools = GovernedTools(PolicyGate(kit_engine(), audit=audit))
    for t in make_tools(effects):
        tools.register(t.fn)
    return tools, effects, audit


def chat_message(*calls: tuple[str, str, Any]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "tool_calls": [
            {"id": cid, "type": "function", "function": {"name": n, "arguments": a}}
            for cid, n, a in calls
        ],
    }


def test_schema_from_signature() -> None:
    def f(path: str, tags: list[str], limit: int = 5, note: str | None = None) -> None:
        """Doc."""

    s = function_schema(f)
    assert s["type"] == "object"
    assert s["required"] == ["path", "tags"]
    assert s["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert s["properties"]["limit"] == {"type": "integer", "default": 5}
    tools = GovernedTools(PolicyGate(kit_engine(), audit=None), strict=True)
    tools.register(f, name="files")
    chat = tools.chat_tools()[0]
    assert chat["function"]["name"] == "files"
    assert chat["function"]["description"] == "Doc."
    assert chat["function"]["strict"] is True
    assert tools.responses_tools()[0]["name"] == "files"
    with pytest.raises(ValueError, match="already registered"):
        tools.register(f, name="files")


def test_schema_matches_the_sdk_helper_for_a_pydantic_model() -> None:
    import pydantic

    class Lookup(pydantic.BaseModel):
        key: str

    def lookup(key: str) -> str:
        return key

    sdk = openai.pydantic_function_tool(Lookup)["function"]["parameters"]
    ours = function_schema(lookup)
    untitled = {
        k: {a: b for a, b in v.items() if a != "title"} for k, v in sdk["properties"].items()
    }
    assert ours["properties"] == untitled
    assert ours["required"] == sdk["required"]


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '"text"', "{"])
def test_malformed_arguments_are_refused_unrun(raw: str) -> None:
    tools, effects, audit = kit()
    out = tools.execute(chat_message(("c1", "lookup", raw), ("c2", "lookup", '{"key": "a"}')))
    assert out[0]["tool_call_id"] == "c1"
    assert out[0]["content"].startswith("[kitelogik] DENIED lookup: tool arguments")
    assert out[1]["content"] == "value-of-a"  # the other call of the turn is unaffected
    assert effects.calls == [("lookup", {"key": "a"})]
    assert len(audit.decisions) == 1


def test_unknown_tool_is_denied_by_policy() -> None:
    tools, _, audit = kit()
    out = tools.execute(chat_message(("c1", "format_disk", "{}")))
    assert "kit: no rule allows this action" in out[0]["content"]
    assert audit.decisions[0].verdict == "deny"


def test_allowed_but_unregistered_tool_is_an_error_not_a_run() -> None:
    audit = RecordingAudit()
    tools = GovernedTools(PolicyGate(kit_engine(), audit=audit))
    out = tools.execute(chat_message(("c1", "lookup", '{"key": "a"}')))
    assert "no tool named 'lookup'" in out[0]["content"]
    assert [o.outcome for o in audit.outcomes] == ["failed"]


def test_tool_exception_reaches_the_model_and_the_audit() -> None:
    audit = RecordingAudit()
    tools = GovernedTools(PolicyGate(kit_engine(), audit=audit))

    @tools.register
    def lookup(key: str) -> str:
        raise KeyError(key)

    out = tools.execute(chat_message(("c1", "lookup", '{"key": "a"}')))
    assert out[0]["content"] == "error: KeyError: 'a'"
    assert audit.outcomes[0].outcome == "failed"


def test_responses_dicts_and_async_tools() -> None:
    effects = SideEffectLog()
    tools = GovernedTools(PolicyGate(kit_engine(), audit=None))
    for t in make_tools(effects):
        tools.register(t.afn, name=t.name)
    response = {
        "output": [
            {
                "type": "function_call",
                "call_id": "c1",
                "name": "lookup",
                "arguments": json.dumps({"key": "a"}),
            },
            {"type": "message", "content": []},
            {
                "type": "function_call",
                "call_id": "c2",
                "name": "delete_record",
                "arguments": json.dumps({"record_id": "r"}),
            },
        ]
    }
    out = asyncio.run(tools.aexecute(response))
    assert out[0] == {"type": "function_call_output", "call_id": "c1", "output": "value-of-a"}
    assert out[1]["call_id"] == "c2"
    assert "kit: deleting records is forbidden" in out[1]["output"]
    assert effects.calls == [("lookup", {"key": "a"})]
    # An async tool on the sync path is refused with an error, never silently skipped.
    sync_out = tools.execute(response)
    assert "is async" in sync_out[0]["output"]


def test_duplicate_keys_are_decided_as_they_run() -> None:
    """One parse feeds both the decision and the call: a duplicate key cannot show the policy
    one value and the tool another."""
    tools, effects, audit = kit()
    out = tools.execute(chat_message(("c1", "lookup", '{"key": "alpha", "key": "secret"}')))
    assert "may not be looked up" in out[0]["content"]
    assert effects.calls == []
    assert audit.decisions[0].input is not None
    assert audit.decisions[0].input["args"] == {"key": "secret"}


@pytest.mark.parametrize("raw", ['{"key": NaN}', '{"key": Infinity}', '{"key": "a\\u0000b"}'])
def test_values_the_policy_cannot_judge_are_denied(raw: str) -> None:
    tools, effects, audit = kit()
    out = tools.execute(chat_message(("c1", "lookup", raw)))
    assert out[0]["content"].startswith("[kitelogik] DENIED lookup")
    assert effects.calls == []
    assert [d.verdict for d in audit.decisions] == ["deny"]
