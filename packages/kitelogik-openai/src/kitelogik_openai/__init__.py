"""Kite Logik for the plain OpenAI SDK: every tool call the model asks for is decided by policy
before it runs (Chat Completions and Responses, sync and async clients).

    from kitelogik_openai import GovernedTools
    tools = GovernedTools(gate); tools.register(lookup)
    messages += tools.execute(client.chat.completions.create(..., tools=tools.chat_tools()))
"""

from __future__ import annotations

from kitelogik.adapters import PluginInfo

from kitelogik_openai import _compat  # noqa: F401 - version check first
from kitelogik_openai.tools import GovernedTools, function_schema

__version__ = "0.1.0"

PLUGIN = PluginInfo(
    name="openai",
    distribution="kitelogik-openai",
    framework="openai",
    adapter=GovernedTools,
    hooks=("chat.completions tool_calls", "responses function_call"),
)

__all__ = ["PLUGIN", "GovernedTools", "__version__", "function_schema"]
