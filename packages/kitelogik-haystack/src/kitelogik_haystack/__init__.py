"""Kite Logik for Haystack: every tool call of an ``Agent`` is decided by policy first (a
``before_tool`` confirmation hook; denials as error tool results, escalations waiting for the
gate's approver; sub-agents as ``agent.spawn``).

from kitelogik_haystack import Kitelogik
kitelogik = Kitelogik(gate)
agent = Agent(chat_generator=gen, tools=kitelogik.tools([search]), hooks=kitelogik.hooks())
"""

from __future__ import annotations

from kitelogik.adapters import PluginInfo

from kitelogik_haystack import _compat  # noqa: F401 - version check first
from kitelogik_haystack.hook import SESSION_KEY, Kitelogik, KitelogikStrategy

__version__ = "0.1.0"

PLUGIN = PluginInfo(
    name="haystack",
    distribution="kitelogik-haystack",
    framework="haystack-ai",
    adapter=Kitelogik,
    hooks=(
        "Agent(hooks={'before_tool': [ConfirmationHook]})",
        "ConfirmationStrategy.run/run_async -> ToolExecutionDecision",
        "Tool.function/async_function (governed wrapper)",
        "ComponentTool(Agent) as agent.spawn",
    ),
)

__all__ = ["PLUGIN", "SESSION_KEY", "Kitelogik", "KitelogikStrategy", "__version__"]
