"""plugin_langchain / plugin_langchain_baseline: one tool call through LangChain's real agent loop
(create_agent with a scripted chat model), with and without KitelogikMiddleware. The difference
is what governance adds per tool call (kit policy, embedded Rego engine, no audit sink). Runs in
the plugin's environment: scripts/bench-plugins.sh (make bench)."""

from __future__ import annotations

import itertools
from typing import Any


def scenarios() -> dict[str, Any]:
    try:
        from kitelogik_langchain import KitelogikMiddleware
        from kitelogik_langgraph.testing import ScriptedChatModel
        from langchain.agents import create_agent
        from langchain_core.messages import AIMessage, HumanMessage
        from langchain_core.tools import StructuredTool
    except ImportError:
        return {}
    from kitelogik.gate import PolicyGate
    from kitelogik.testing.fakes import kit_engine

    def lookup(key: str) -> str:
        """Look up a key."""
        return f"value-of-{key}"

    tool = StructuredTool.from_function(func=lookup)
    call = AIMessage(
        "", tool_calls=[{"name": "lookup", "args": {"key": "a"}, "id": "c1", "type": "tool_call"}]
    )

    def factory(governed: bool) -> Any:
        model = ScriptedChatModel(messages=itertools.cycle([call, AIMessage("done")]))
        middleware = [KitelogikMiddleware(PolicyGate(kit_engine(), audit=None))] if governed else []
        agent = create_agent(model, tools=[tool], middleware=middleware)
        inp = {"messages": [HumanMessage("go")]}

        def op() -> None:
            model.requests.clear()
            out = agent.invoke(inp)
            assert out["messages"][2].content == "value-of-a"

        return op, None, 1000

    def hook(governed: bool) -> Any:
        """The middleware hook alone (one call, tool execution stubbed): the governance cost
        without the loop's noise."""
        from langchain_core.messages import ToolMessage
        from langgraph.prebuilt.tool_node import ToolCallRequest

        middleware = KitelogikMiddleware(PolicyGate(kit_engine(), audit=None))
        req = ToolCallRequest(
            tool_call=call.tool_calls[0],
            tool=tool,
            state={},
            runtime=None,  # type: ignore[arg-type]
        )

        def execute(r: Any) -> ToolMessage:
            return ToolMessage("value-of-a", tool_call_id="c1")

        if governed:
            return lambda: middleware.wrap_tool_call(req, execute)
        return lambda: execute(req)

    return {
        "plugin_langchain": lambda: factory(True),
        "plugin_langchain_baseline": lambda: factory(False),
        "plugin_langchain_hook": lambda: hook(True),
        "plugin_langchain_hook_baseline": lambda: hook(False),
    }
