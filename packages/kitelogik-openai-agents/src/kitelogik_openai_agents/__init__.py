"""Kite Logik for the OpenAI Agents SDK: every tool call, handoff and agent-as-tool is decided by
policy first (tool input guardrails, ``needs_approval`` / ``RunState`` approvals).

from kitelogik_openai_agents import KitelogikGuardrail
agent = KitelogikGuardrail(gate).govern(agent)
result = await Runner.run(agent, "...")
"""

from __future__ import annotations

from kitelogik.adapters import PluginInfo

from kitelogik_openai_agents import _compat  # noqa: F401 - version check first
from kitelogik_openai_agents.guardrail import KitelogikGuardrail, govern

__version__ = "0.1.0"

PLUGIN = PluginInfo(
    name="openai-agents",
    distribution="kitelogik-openai-agents",
    framework="openai-agents",
    adapter=KitelogikGuardrail,
    hooks=(
        "FunctionTool.tool_input_guardrails",
        "FunctionTool.on_invoke_tool",
        "FunctionTool.needs_approval",
        "RunState.approve/reject",
        "Handoff.on_invoke_handoff",
    ),
)

__all__ = ["PLUGIN", "KitelogikGuardrail", "__version__", "govern"]
