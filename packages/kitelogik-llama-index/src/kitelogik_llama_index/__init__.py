"""Kite Logik for LlamaIndex agents: every tool call and handoff is decided by policy first.

from kitelogik_llama_index import govern_tools
agent = FunctionAgent(tools=govern_tools([search, refund], gate), llm=llm)
"""

from __future__ import annotations

from kitelogik.adapters import PluginInfo

from kitelogik_llama_index import _compat  # noqa: F401 - version check first
from kitelogik_llama_index.tools import (
    GovernedAgentWorkflow,
    GovernedTool,
    approval_response,
    govern_tools,
)

__version__ = "0.1.0"

PLUGIN = PluginInfo(
    name="llama-index",
    distribution="kitelogik-llama-index",
    framework="llama-index-core",
    adapter=GovernedTool,
    hooks=(
        "FunctionTool(requires_context) wrapper",
        "AgentWorkflow.get_tools (handoff)",
        "InputRequiredEvent / HumanResponseEvent",
    ),
)

__all__ = [
    "PLUGIN",
    "GovernedAgentWorkflow",
    "GovernedTool",
    "__version__",
    "approval_response",
    "govern_tools",
]
