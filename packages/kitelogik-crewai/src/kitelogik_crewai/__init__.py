"""Kite Logik for CrewAI: every tool call and delegation of a crew is decided by policy first.

from kitelogik_crewai import KitelogikHooks
with KitelogikHooks(gate, context=session).installed():
    crew.kickoff()
"""

from __future__ import annotations

from kitelogik.adapters import PluginInfo

from kitelogik_crewai import _compat  # noqa: F401 - version check first
from kitelogik_crewai.hooks import DELEGATION_TOOLS, KitelogikHooks

__version__ = "0.1.0"

PLUGIN = PluginInfo(
    name="crewai",
    distribution="kitelogik-crewai",
    framework="crewai",
    adapter=KitelogikHooks,
    hooks=(
        "InterceptionPoint.PRE_TOOL_CALL",
        "InterceptionPoint.POST_TOOL_CALL",
        "InterceptionPoint.PRE_STEP",
    ),
)

__all__ = ["DELEGATION_TOOLS", "PLUGIN", "KitelogikHooks", "__version__"]
