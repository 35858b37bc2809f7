"""Semantic Kernel specific behaviour (the kit covers the shared promises): sibling calls,
Kernel.clone(), the function-invocation filter, handoffs, argument tampering by another filter,
internal errors, registration."""

from __future__ import annotations

import copy
import threading
from typing import Any

import pytest
from kitelogik.events import SessionContext
from kitelogik.gate import PolicyGate
from kitelogik.testing.fakes import RecordingAudit, SideEffectLog, kit_engine
from kitelogik.testing.scenarios import Call, Turn, make_tools
from kitelogik_semantic_kernel import KitelogikFilter
from kitelogik_semantic_kernel.testing import ScriptedChatCompletion
from semantic_kernel import Kernel
from semantic_kernel.connectors.ai.function_choice_behavior import FunctionChoiceBehavior
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import ChatHistory
from semantic_kernel.filters import FilterTypes
from semantic_kernel.functions import (
    KernelArguments,
    KernelFunctionFromMethod,
    KernelPlugin,
    kernel_function,
)

CTX = SessionContext(session_id="sk-test", agent_id="a", session_scopes=("kit",))


def setup(turns: list[Turn], **filter_kwargs: Any) -> tuple[Kernel, Any, Any, Any, Any]:
    effects = SideEffectLog()
    audit = RecordingAudit()
    gate = PolicyGate(kit_engine(), audit=audit)
    service = ScriptedChatCompletion.from_turns(turns)
    kernel = Kernel()
    kernel.add_service(service)
    fns = [
        KernelFunctionFromMethod(
            method=kernel_function(t.afn, name=t.name, description=t.description),
            plugin_name="kit",
        )
        for t in make_tools(effects)
    ]
    kernel.add_plugin(KernelPlugin(name="kit", functions=fns))
    f = KitelogikFilter(gate, **{"context": CTX, **filter_kwargs})
    f.register(kernel)
    return kernel, service, effects, audit, f


async def chat(kernel: Kernel, service: ScriptedChatCompletion) -> Any:
    history = ChatHistory()
    history.add_user_message("go")
    settings = PromptExecutionSettings(function_choice_behavior=FunctionChoiceBehavior.Auto())
    return await service.get_chat_message_content(history, settings, kernel=kernel)


async def test_sibling_calls_in_one_turn_are_each_decided() -> None:
    calls = (
        Call("lookup", {"key": "a"}, "c1"),
        Call("lookup", {"key": "secret"}, "c2"),
        Call("delete_record", {"record_id": "r"}, "c3"),
        Call("lookup", {"key": "b"}, "c4"),
    )
    kernel, service, effects, audit, _ = setup([Turn(calls=calls), Turn(text="ok")])
    await chat(kernel, service)
    assert sorted(a["key"] for _, a in effects.calls) == ["a", "b"]
    assert len(audit.decisions) == 4
    seen = service.seen()
    assert seen["c1"] == "value-of-a" and seen["c4"] == "value-of-b"
    assert "may not be looked up" in seen["c2"]
    assert "deleting records is forbidden" in seen["c3"]


async def test_clone_keeps_the_same_filter_and_gate() -> None:
    kernel, service, effects, audit, f = setup(
        [Turn(calls=(Call("delete_record", {"record_id": "r"}, "c1"),)), Turn(text="ok")]
    )
    f.gate._kl_lock = threading.Lock()  # type: ignore[attr-defined] - unpicklable on purpose
    clone = kernel.clone()
    assert [x for _, x in clone.auto_function_invocation_filters] == [f]
    assert [x for _, x in clone.function_invocation_filters] == [f]
    assert copy.deepcopy(f) is f
    # The clone is governed: a denied call through it never runs.
    await chat(clone, service)
    assert effects.calls == []
    assert [d.verdict for d in audit.decisions] == ["deny"]


async def test_programmatic_invoke_is_decided_by_the_function_filter() -> None:
    kernel, _, effects, audit, _ = setup([])
    fn = kernel.get_function("kit", "delete_record")
    result = await kernel.invoke(fn, KernelArguments(record_id="r-9"))
    assert "[kitelogik] DENIED delete_record" in str(result.value)
    ok = await kernel.invoke(kernel.get_function("kit", "lookup"), KernelArguments(key="z"))
    assert ok.value == "value-of-z"
    assert effects.calls == [("lookup", {"key": "z"})]
    assert [d.verdict for d in audit.decisions] == ["deny", "allow"]
    assert [o.outcome for o in audit.outcomes] == ["ran"]


async def test_auto_invoke_is_decided_once_with_both_filters() -> None:
    kernel, service, effects, audit, _ = setup(
        [Turn(calls=(Call("lookup", {"key": "a"}, "c1"),)), Turn(text="ok")]
    )
    await chat(kernel, service)
    assert effects.calls == [("lookup", {"key": "a"})]
    assert len(audit.decisions) == 1 and len(audit.outcomes) == 1


async def test_a_filter_changing_arguments_after_the_decision_is_decided_again() -> None:
    kernel, service, effects, audit, _ = setup(
        [Turn(calls=(Call("lookup", {"key": "alpha"}, "c1"),)), Turn(text="ok")]
    )

    async def tamper(context: Any, next: Any) -> None:  # added last: runs after ours
        context.arguments["key"] = "secret"
        await next(context)

    kernel.add_filter(FilterTypes.AUTO_FUNCTION_INVOCATION, tamper)
    await chat(kernel, service)
    assert effects.calls == []  # the tampered call was refused by the function filter
    assert [(d.action, d.verdict, d.args["key"]) for d in audit.decisions] == [
        ("lookup", "allow", "alpha"),
        ("lookup", "deny", "secret"),
    ]
    assert "may not be looked up" in service.seen()["c1"]


async def test_handoff_functions_are_delegations() -> None:
    ran: list[str] = []

    def make(agent: str) -> Any:
        @kernel_function(name=f"transfer_to_{agent}", description=f"hand off to {agent}")
        def transfer() -> str:
            ran.append(agent)
            return f"transferred to {agent}"

        return KernelFunctionFromMethod(method=transfer, plugin_name="Handoff")

    kernel, _, _, audit, _ = setup(
        [
            Turn(
                calls=(
                    Call("Handoff-transfer_to_researcher", {}, "h1"),
                    Call("Handoff-transfer_to_admin", {}, "h2"),
                )
            ),
            Turn(text="ok"),
        ]
    )
    kernel.add_plugin(KernelPlugin(name="Handoff", functions=[make("researcher"), make("admin")]))
    service = kernel.get_service("scripted")
    await chat(kernel, service)
    assert ran == ["researcher"]
    assert sorted((d.event_type, d.action, d.verdict) for d in audit.decisions) == [
        ("agent.delegate", "admin", "deny"),
        ("agent.delegate", "researcher", "allow"),
    ]
    assert 'agent "admin" is not allowed' in service.seen()["h2"]


async def test_internal_error_is_a_deny() -> None:
    def broken_session() -> SessionContext:
        raise RuntimeError("session store down")

    kernel, service, effects, _, _ = setup(
        [Turn(calls=(Call("lookup", {"key": "a"}, "c1"),)), Turn(text="ok")],
        context=broken_session,
    )
    await chat(kernel, service)
    assert effects.calls == []
    assert service.seen()["c1"].startswith("[kitelogik] DENIED lookup: session store down")


async def test_invoke_prompt_is_not_a_tool_call() -> None:
    kernel, _service, effects, audit, _ = setup(
        [Turn(calls=(Call("lookup", {"key": "a"}, "c1"),)), Turn(text="ok")]
    )
    settings = PromptExecutionSettings(function_choice_behavior=FunctionChoiceBehavior.Auto())
    result = await kernel.invoke_prompt("go", arguments=KernelArguments(settings=settings))
    assert str(result) == "ok"
    assert [d.action for d in audit.decisions] == ["lookup"]
    assert effects.calls == [("lookup", {"key": "a"})]


def test_register_is_idempotent_and_reversible() -> None:
    kernel, _, _, _, f = setup([])
    f.register(kernel)
    assert len(kernel.auto_function_invocation_filters) == 1
    assert len(kernel.function_invocation_filters) == 1
    f.unregister(kernel)
    assert not f.registered(kernel)
    assert kernel.auto_function_invocation_filters == []
    assert kernel.function_invocation_filters == []
    only_auto = KitelogikFilter(f.gate, functions=False)
    only_auto.register(kernel)
    assert kernel.function_invocation_filters == []


@pytest.mark.parametrize("qualified", [False, True])
async def test_action_names(qualified: bool) -> None:
    kernel, service, _, audit, _ = setup(
        [Turn(calls=(Call("lookup", {"key": "a"}, "c1"),)), Turn(text="ok")],
        qualified_names=qualified,
    )
    await chat(kernel, service)
    d = audit.decisions[0]
    assert d.action == ("kit-lookup" if qualified else "lookup")
    assert d.input["tool"]["plugin"] == "kit"
    assert d.input["context"]["framework"] == "semantic-kernel"
