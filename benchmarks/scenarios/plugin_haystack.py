"""plugin_haystack / plugin_haystack_baseline: one tool call through Haystack's real agent loop
(``Agent.run``: model turn with one tool call, the tool, model turn with the answer) with a
stateless scripted ``MockChatGenerator``, with and without ``Kitelogik`` (the before_tool
confirmation hook and the governed tool). The difference is what governance adds per tool call
(kit policy, embedded Rego engine, no audit sink). ``plugin_haystack_hook`` /
``_hook_baseline``: the confirmation hook alone on one pending call (Haystack's
``ConfirmationHook`` with the kitelogik strategy vs. with a strategy that allows everything).

Runs in the plugin's environment: scripts/bench-plugins.sh (make bench).
"""

from __future__ import annotations

import os
from typing import Any


def scenarios() -> dict[str, Any]:
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    try:
        from haystack.components.agents import Agent
        from haystack.components.agents.state import State
        from haystack.components.generators.chat import MockChatGenerator
        from haystack.dataclasses import ChatMessage, ToolCall
        from haystack.hooks.human_in_the_loop import ConfirmationHook, ToolExecutionDecision
        from haystack.tools import Tool
        from kitelogik_haystack import Kitelogik
    except ImportError:  # not this environment
        return {}
    from kitelogik.gate import PolicyGate
    from kitelogik.testing.fakes import kit_engine

    call = ChatMessage.from_assistant(
        tool_calls=[ToolCall(id="c1", tool_name="lookup", arguments={"key": "a"})]
    )

    def one_call(messages: list[Any]) -> Any:
        return "done" if messages[-1].tool_call_results else call

    def lookup(key: str) -> str:
        return f"value-of-{key}"

    tool = Tool(
        name="lookup",
        description="Look up a key.",
        parameters={"type": "object", "properties": {"key": {"type": "string"}}},
        function=lookup,
    )

    def factory(governed: bool) -> Any:
        gen = MockChatGenerator(response_fn=one_call)
        if governed:
            kl = Kitelogik(PolicyGate(kit_engine(), audit=None))
            agent = Agent(chat_generator=gen, tools=kl.tools([tool]), hooks=kl.hooks())
        else:
            agent = Agent(chat_generator=gen, tools=[tool])
        messages = [ChatMessage.from_user("go")]

        def op() -> None:
            out = agent.run(messages=messages)
            assert out["messages"][-2].tool_call_results[0].result == "value-of-a", out

        return op, None, 1000

    class AllowAll:
        def run(self, *, tool_name: str, tool_params: dict[str, Any], **kw: Any) -> Any:
            return ToolExecutionDecision(
                tool_name=tool_name,
                execute=True,
                tool_call_id=kw.get("tool_call_id"),
                final_tool_params=tool_params,
            )

        def to_dict(self) -> dict[str, Any]:
            return {}

    def hook(governed: bool) -> Any:
        kl = Kitelogik(PolicyGate(kit_engine(), audit=None))
        confirm = kl.hook() if governed else ConfirmationHook({"*": AllowAll()})
        tools = kl.tools([tool]) if governed else [tool]

        def op() -> None:
            state = State(schema={"messages": {"type": list[ChatMessage]}})
            state.data["messages"] = [ChatMessage.from_user("go"), call]
            state.data["tools"] = tools
            confirm.run(state)
            if governed:  # the allow waits for its tool: run it, as the agent would
                tools[0].invoke(key="a")

        return op, None, 3000

    return {
        "plugin_haystack": lambda: factory(True),
        "plugin_haystack_baseline": lambda: factory(False),
        "plugin_haystack_hook": lambda: hook(True),
        "plugin_haystack_hook_baseline": lambda: hook(False),
    }
