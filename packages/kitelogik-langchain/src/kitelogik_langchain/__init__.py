"""Kite Logik for LangChain v1: every tool call of an agent is decided by policy first.

from kitelogik_langchain import KitelogikMiddleware
agent = create_agent(model, tools, middleware=[KitelogikMiddleware(gate)])
"""

from __future__ import annotations

from kitelogik.adapters import PluginInfo

from kitelogik_langchain import _compat  # noqa: F401 - version check first
from kitelogik_langchain.middleware import KitelogikMiddleware, govern_tools

__version__ = "0.1.0"

PLUGIN = PluginInfo(
    name="langchain",
    distribution="kitelogik-langchain",
    framework="langchain",
    adapter=KitelogikMiddleware,
    hooks=("AgentMiddleware.wrap_tool_call", "AgentMiddleware.awrap_tool_call", "interrupt"),
)

__all__ = ["PLUGIN", "KitelogikMiddleware", "__version__", "govern_tools"]
