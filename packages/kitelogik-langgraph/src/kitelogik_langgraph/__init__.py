"""Kite Logik for LangGraph: every tool call of a ``ToolNode`` is decided by policy first.

from kitelogik_langgraph import GovernedToolNode
builder.add_node("tools", GovernedToolNode([search, send_email], gate))
"""

from __future__ import annotations

from kitelogik.adapters import PluginInfo

from kitelogik_langgraph import _compat  # noqa: F401 - version check first
from kitelogik_langgraph.tool_node import (
    GovernedToolNode,
    KitelogikToolWrapper,
    governed_subgraph,
    send_tool_calls,
)

__version__ = "0.1.0"

PLUGIN = PluginInfo(
    name="langgraph",
    distribution="kitelogik-langgraph",
    framework="langgraph",
    adapter=GovernedToolNode,
    hooks=("ToolNode.wrap_tool_call", "ToolNode.awrap_tool_call", "interrupt"),
)

__all__ = [
    "PLUGIN",
    "GovernedToolNode",
    "KitelogikToolWrapper",
    "__version__",
    "governed_subgraph",
    "send_tool_calls",
]
