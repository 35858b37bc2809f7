"""Kite Logik for Google ADK: every tool call, ``transfer_to_agent`` (``agent.delegate``),
``AgentTool`` and sub-agent start (``agent.spawn``) of a runner is decided by policy first
(a ``BasePlugin``; denials as the function response, escalations through the gate's approver or
ADK's tool confirmation and resume).

from kitelogik_google_adk import KitelogikPlugin
runner = InMemoryRunner(agent=root_agent, plugins=[KitelogikPlugin(gate)])
"""

from __future__ import annotations

from kitelogik.adapters import PluginInfo

from kitelogik_google_adk import _compat  # noqa: F401 - version check first
from kitelogik_google_adk.plugin import KitelogikPlugin

__version__ = "0.1.0"

PLUGIN = PluginInfo(
    name="google-adk",
    distribution="kitelogik-google-adk",
    framework="google-adk",
    adapter=KitelogikPlugin,
    hooks=(
        "BasePlugin.before_tool_callback",
        "BasePlugin.after_tool_callback/on_tool_error_callback",
        "BasePlugin.before_agent_callback",
        "ToolContext.request_confirmation (adk_request_confirmation resume)",
    ),
)

__all__ = ["PLUGIN", "KitelogikPlugin", "__version__"]
