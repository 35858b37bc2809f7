"""Kite Logik for Dify: a governed function-calling agent strategy (packaged as a Dify plugin
under ``difypkg/``) that decides every tool call by policy before ``session.tool.invoke``.

``import kitelogik_dify`` only checks the installed dify-plugin version: it does not import
``dify_plugin``, whose import gevent-patches the standard library. The strategy class is loaded
on first use (``from kitelogik_dify import GovernedFunctionCalling``), which does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kitelogik.adapters import PluginInfo

from kitelogik_dify import _compat  # noqa: F401 - version check first

if TYPE_CHECKING:
    from kitelogik_dify.strategy import GovernedFunctionCalling, GovernedParams

__version__ = "0.1.0"

PLUGIN = PluginInfo(
    name="dify",
    distribution="kitelogik-dify",
    framework="dify-plugin",
    # A reference, not the class: loading it would gevent-patch the process (kitelogik doctor).
    adapter="kitelogik_dify.strategy:GovernedFunctionCalling",
    hooks=(
        "AgentStrategy._invoke (governed function-calling loop)",
        "session.tool.invoke after the decision",
    ),
)

__all__ = ["PLUGIN", "GovernedFunctionCalling", "GovernedParams", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("GovernedFunctionCalling", "GovernedParams"):
        from kitelogik_dify import strategy

        return getattr(strategy, name)
    raise AttributeError(f"module 'kitelogik_dify' has no attribute {name!r}")
