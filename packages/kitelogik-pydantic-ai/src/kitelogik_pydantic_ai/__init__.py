"""Kite Logik for PydanticAI: every tool call of an agent is decided by policy first (a
capability wrapping the agent's toolset; denials as ``ToolFailed``, escalations as
``ApprovalRequired`` / ``DeferredToolRequests``).

from kitelogik_pydantic_ai import KitelogikCapability
agent = Agent(model, tools=[search, send_email], capabilities=[KitelogikCapability(gate)])
"""

from __future__ import annotations

from kitelogik.adapters import PluginInfo

from kitelogik_pydantic_ai import _compat  # noqa: F401 - version check first
from kitelogik_pydantic_ai.capability import KitelogikCapability, KitelogikToolset

__version__ = "0.1.0"

PLUGIN = PluginInfo(
    name="pydantic-ai",
    distribution="kitelogik-pydantic-ai",
    framework="pydantic-ai-slim",
    adapter=KitelogikCapability,
    hooks=(
        "AbstractCapability.get_wrapper_toolset",
        "WrapperToolset.call_tool",
        "ToolFailed",
        "ApprovalRequired/DeferredToolRequests",
    ),
)

__all__ = ["PLUGIN", "KitelogikCapability", "KitelogikToolset", "__version__"]
