"""plugin_langgraph / plugin_langgraph_baseline: one tool call through LangGraph's real graph loop
(agent node with a scripted chat model -> ToolNode -> agent), with and without the governed
ToolNode. The difference is what governance adds per tool call (kit policy, embedded Rego engine,
no audit sink). Runs in the plugin's environment: scripts/bench-plugins.sh (make bench)."""

from __future__ import annotations

import itertools
from typing import Any


def scenarios() -> dict[str, Any]:
    try:
        from kitelogik_langgraph import GovernedToolNode, send_tool_calls
        from kitelogik_langgraph.testing import ScriptedChatModel
        from langchain_core.messages import AIMessage, HumanMessage
        from langchain_core.tools import StructuredTool
        from langgraph.graph import END, START, MessagesState, StateGraph
        from langgraph.prebuilt import ToolNode
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
        node = (
            GovernedToolNode([tool], PolicyGate(kit_engine(), audit=None))
            if governed
            else ToolNode([tool])
        )
        b = StateGraph(MessagesState)
        b.add_node("agent", lambda s: {"messages": [model.invoke(s["messages"])]})
        b.add_node("tools", node)
        b.add_edge(START, "agent")
        b.add_conditional_edges("agent", send_tool_calls, ["tools", END])
        b.add_edge("tools", "agent")
        graph = b.compile()
        inp = {"messages": [HumanMessage("go")]}

        def op() -> None:
            model.requests.clear()
            out = graph.invoke(inp)
            assert out["messages"][2].content == "value-of-a"

        return op, None, 1000

    def hook(governed: bool) -> Any:
        """The ToolNode hook alone (one call, tool execution stubbed): the governance cost
        without the loop's noise."""
        from kitelogik_langgraph import KitelogikToolWrapper
        from langchain_core.messages import ToolMessage
        from langgraph.prebuilt.tool_node import ToolCallRequest

        wrapper = KitelogikToolWrapper(PolicyGate(kit_engine(), audit=None))
        req = ToolCallRequest(tool_call=call.tool_calls[0], tool=tool, state={}, runtime=None)  # type: ignore[arg-type]

        def execute(r: Any) -> ToolMessage:
            return ToolMessage("value-of-a", tool_call_id="c1")

        if governed:
            return lambda: wrapper.wrap_tool_call(req, execute)
        return lambda: execute(req)

    return {
        "plugin_langgraph": lambda: factory(True),
        "plugin_langgraph_baseline": lambda: factory(False),
        "plugin_langgraph_hook": lambda: hook(True),
        "plugin_langgraph_hook_baseline": lambda: hook(False),
    }
