"""kitelogik-pydantic-ai beyond the conformance kit: how a denial reaches the model (ToolFailed,
never ModelRetry), the deferred-approval path under attack, per-run capabilities, streaming and
iteration, the bare toolset, tool facts. Every run goes through PydanticAI's real agent loop with
a scripted FunctionModel (no network)."""

from __future__ import annotations

from typing import Any

import pytest
from kitelogik.adapters import approval_answer
from kitelogik.gate import PolicyGate
from kitelogik.protocols import ApprovalResult
from kitelogik.testing.fakes import RecordingAudit, ScriptedApprover, SideEffectLog, kit_engine
from kitelogik.testing.scenarios import Call, Turn
from kitelogik_pydantic_ai import KitelogikCapability, KitelogikToolset
from kitelogik_pydantic_ai.testing import scripted_model
from pydantic_ai import (
    Agent,
    DeferredToolRequests,
    DeferredToolResults,
    FunctionToolset,
    Tool,
    ToolApproved,
)
from pydantic_ai.messages import ModelRequest, RetryPromptPart, ToolReturnPart


@pytest.fixture
def audit() -> RecordingAudit:
    return RecordingAudit()


@pytest.fixture
def effects() -> SideEffectLog:
    return SideEffectLog()


def gate(audit: RecordingAudit, approver: Any = None) -> PolicyGate:
    return PolicyGate(kit_engine(), audit=audit, approver=approver)


def make(effects: SideEffectLog) -> list[Any]:
    def lookup(key: str) -> str:
        """Look up the value stored under a key."""
        effects.record("lookup", {"key": key})
        return f"value-of-{key}"

    async def transfer(amount: int, to: str) -> str:
        """Transfer an amount of money to someone."""
        effects.record("transfer", {"amount": amount, "to": to})
        return f"transferred {amount} to {to}"

    def delete_record(record_id: str) -> str:
        """Delete a record by id."""
        effects.record("delete_record", {"record_id": record_id})
        return f"deleted {record_id}"

    return [lookup, transfer, delete_record]


def turns(*calls: Call) -> list[Turn]:
    return [Turn(calls=(c,)) for c in calls]


def returns(model: Any) -> dict[str, tuple[str, str]]:
    """(part type, outcome) the model received for each call id."""
    out = {}
    for messages in model.requests:
        for m in messages:
            if isinstance(m, ModelRequest):
                for p in m.parts:
                    if isinstance(p, ToolReturnPart):
                        out[p.tool_call_id] = ("return", p.outcome)
                    elif isinstance(p, RetryPromptPart):
                        out[p.tool_call_id] = ("retry", "retried")
    return out


def test_denials_are_failed_tool_results_and_never_spend_retries(audit, effects):
    """ModelRetry would count against the tool's retries (max 1 here) and end the run."""
    model = scripted_model(
        turns(
            Call("delete_record", {"record_id": "r-1"}, "c1"),
            Call("delete_record", {"record_id": "r-2"}, "c2"),
            Call("delete_record", {"record_id": "r-3"}, "c3"),
        )
    )
    cap = KitelogikCapability(gate(audit))
    agent = Agent(model, tools=make(effects), capabilities=[cap], retries=1)
    result = agent.run_sync("go")
    assert result.output == "done"
    assert effects.calls == []
    assert returns(model) == {c: ("return", "failed") for c in ("c1", "c2", "c3")}
    assert model.seen()["c3"].startswith("[kitelogik] DENIED delete_record: kit: deleting")


def test_a_bare_true_on_resume_never_runs_an_escalated_call(audit, effects):
    """Attack: resume with DeferredToolResults(approvals={id: True}), bypassing kitelogik."""
    model = scripted_model(turns(Call("transfer", {"amount": 9000, "to": "mallory"}, "c1")))
    cap = KitelogikCapability(gate(audit))
    agent = Agent(
        model, tools=make(effects), capabilities=[cap], output_type=[str, DeferredToolRequests]
    )
    result = agent.run_sync("go")
    assert isinstance(result.output, DeferredToolRequests)
    request = result.output.metadata["c1"]
    assert request["kitelogik"] == "approval_request" and len(request["binding_digest"]) == 64
    result = agent.run_sync(
        message_history=result.all_messages(),
        deferred_tool_results=DeferredToolResults(approvals={"c1": True}),
    )
    assert effects.calls == []
    assert model.seen()["c1"].startswith("[kitelogik] DENIED transfer")
    assert returns(model)["c1"] == ("return", "failed")
    assert [d.verdict for d in audit.decisions] == ["escalate"]
    assert [o.outcome for o in audit.outcomes] == ["skipped"]
    assert cap.pending() == 0


def test_approval_with_changed_arguments_is_decided_again(audit, effects):
    """Attack: a bound approval for 5 to bob, resumed with override_args for 9000 to mallory."""
    model = scripted_model(turns(Call("transfer", {"amount": 5, "to": "bob"}, "c1")))
    cap = KitelogikCapability(gate(audit))
    agent = Agent(
        model, tools=make(effects), capabilities=[cap], output_type=[str, DeferredToolRequests]
    )
    result = agent.run_sync("go")
    answer = ScriptedApprover(["approve"]).answer(result.output.metadata["c1"])
    cap.results(result.output, {"c1": approval_answer(answer)})  # records the bound approval
    forged = DeferredToolResults(
        approvals={"c1": ToolApproved(override_args={"amount": 9000, "to": "mallory"})}
    )
    agent.run_sync(message_history=result.all_messages(), deferred_tool_results=forged)
    assert effects.calls == []
    assert model.seen()["c1"].startswith("[kitelogik] DENIED transfer")
    assert [(d.verdict, d.args["amount"]) for d in audit.decisions] == [
        ("escalate", 5),
        ("escalate", 9000),
    ]


@pytest.mark.parametrize(
    "answer",
    [
        True,
        None,
        {"approved": True},
        ApprovalResult(True, "ok", ("x",), "r", None, "approved"),
        ApprovalResult(True, "ok", ("x",), "r", "0" * 64, "approved"),
        ApprovalResult(False, "no", ("x",), "r", None, "denied"),
    ],
)
async def test_unbound_answers_deny_and_the_model_reads_why(audit, effects, answer):
    model = scripted_model(turns(Call("transfer", {"amount": 5, "to": "bob"}, "c1")))
    cap = KitelogikCapability(gate(audit))
    agent = Agent(
        model, tools=make(effects), capabilities=[cap], output_type=[str, DeferredToolRequests]
    )
    result = await agent.run("go")
    results = await cap.aresults(result.output, {"c1": answer} if answer is not None else {})
    await agent.run(message_history=result.all_messages(), deferred_tool_results=results)
    assert effects.calls == []
    assert "human approval not granted" in model.seen()["c1"]
    assert returns(model)["c1"] == ("return", "denied")


async def test_per_run_capability_governs_every_kind_of_tool(audit, effects):
    lookup, _, delete_record = make(effects)
    model = scripted_model(
        [
            Turn(
                calls=(
                    Call("lookup", {"key": "secret"}, "c1"),
                    Call("delete_record", {"record_id": "r-1"}, "c2"),
                    Call("lookup", {"key": "alpha"}, "c3"),
                )
            )
        ]
    )
    agent = Agent(model, toolsets=[FunctionToolset([delete_record])])
    agent.tool_plain(lookup)
    cap = KitelogikCapability(gate(audit))
    await agent.run("go", capabilities=[cap])
    assert effects.calls == [("lookup", {"key": "alpha"})]
    assert sorted(d.verdict for d in audit.decisions) == ["allow", "deny", "deny"]
    # Without it, the same agent runs everything (the capability is what governs).
    effects.calls.clear()
    await agent.run("go")
    assert len(effects.calls) == 3


async def test_run_stream_and_iter_are_governed(audit, effects):
    cap = KitelogikCapability(gate(audit))
    script = [
        Turn(
            calls=(
                Call("lookup", {"key": "alpha"}, "c1"),
                Call("delete_record", {"record_id": "r-1"}, "c2"),
            )
        )
    ]
    model = scripted_model(script)
    agent = Agent(model, tools=make(effects), capabilities=[cap])
    async with agent.run_stream("go") as streamed:
        await streamed.get_output()
    assert effects.calls == [("lookup", {"key": "alpha"})]
    assert "DENIED delete_record" in model.seen()["c2"]
    effects.calls.clear()
    model = scripted_model(script)
    agent = Agent(model, tools=make(effects), capabilities=[cap])
    async with agent.iter("go") as run:
        async for _ in run:
            pass
    assert effects.calls == [("lookup", {"key": "alpha"})]


def test_the_bare_toolset_with_an_approver(audit, effects):
    toolset = KitelogikToolset(
        FunctionToolset(make(effects)), gate(audit, ScriptedApprover(["approve", "deny"]))
    )
    model = scripted_model(
        [
            Turn(
                calls=(
                    Call("transfer", {"amount": 1, "to": "ann"}, "c1"),
                    Call("transfer", {"amount": 2, "to": "eve"}, "c2"),
                )
            )
        ]
    )
    Agent(model, toolsets=[toolset]).run_sync("go")
    assert len(effects.calls) == 1
    assert [o.outcome for o in audit.outcomes].count("ran") == 1
    got = sorted(model.seen().values())
    assert got[0].startswith("[kitelogik] DENIED transfer")
    assert "rejected by the kit reviewer" in got[0]
    assert got[1].startswith("transferred")


def test_tool_facts_reach_the_policy(audit, effects):
    lookup, _, _ = make(effects)
    cap = KitelogikCapability(gate(audit), tools={"lookup": {"risk_tier": "operational"}})
    tool = Tool(lookup, metadata={"kitelogik": {"external": True, "risk_tier": "destructive"}})
    model = scripted_model(turns(Call("lookup", {"key": "alpha"}, "c1")))
    Agent(model, tools=[tool], capabilities=[cap]).run_sync("go")
    [decision] = audit.decisions
    facts = decision.input["tool"]
    assert facts["external"] is True  # from the tool's metadata
    assert facts["risk_tier"] == "operational"  # the host's explicit facts win


def test_a_forgotten_escalation_is_refused_not_allowed(audit, effects, monkeypatch):
    """Attack: flood the pending store so an escalation is evicted, then approve it anyway."""
    from kitelogik_pydantic_ai import capability

    monkeypatch.setattr(capability, "MAX_PENDING", 1)
    model = scripted_model(
        [
            Turn(
                calls=(
                    Call("transfer", {"amount": 9000, "to": "mallory"}, "c1"),
                    Call("transfer", {"amount": 1, "to": "ann"}, "c2"),
                )
            )
        ]
    )
    cap = KitelogikCapability(gate(audit))
    agent = Agent(
        model, tools=make(effects), capabilities=[cap], output_type=[str, DeferredToolRequests]
    )
    result = agent.run_sync("go")
    assert len(result.output.approvals) == 2 and cap.pending() == 1
    agent.run_sync(
        message_history=result.all_messages(),
        deferred_tool_results=DeferredToolResults(approvals={"c1": True, "c2": True}),
    )
    assert effects.calls == []
    seen = model.seen()
    assert all(seen[c].startswith("[kitelogik] DENIED transfer") for c in ("c1", "c2"))


def test_an_escalation_without_deferred_output_fails_loudly_and_never_runs(audit, effects):
    """PydanticAI's rule: pausing needs DeferredToolRequests in output_type. Without it the run
    stops with UserError (the fix in the message); the escalated call has not run."""
    from pydantic_ai.exceptions import UserError

    model = scripted_model(turns(Call("transfer", {"amount": 5, "to": "bob"}, "c1")))
    agent = Agent(model, tools=make(effects), capabilities=[KitelogikCapability(gate(audit))])
    with pytest.raises(UserError, match="DeferredToolRequests"):
        agent.run_sync("go")
    assert effects.calls == []
    assert [d.verdict for d in audit.decisions] == ["escalate"]
