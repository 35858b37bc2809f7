"""Kite Logik for Semantic Kernel: every function the model calls is decided by policy first.

from kitelogik_semantic_kernel import KitelogikFilter
KitelogikFilter(gate).register(kernel)
"""

from __future__ import annotations

from kitelogik.adapters import PluginInfo

from kitelogik_semantic_kernel import _compat  # noqa: F401 - version check first
from kitelogik_semantic_kernel.filter import KitelogikFilter

__version__ = "0.1.0"

PLUGIN = PluginInfo(
    name="semantic-kernel",
    distribution="kitelogik-semantic-kernel",
    framework="semantic-kernel",
    adapter=KitelogikFilter,
    hooks=("FilterTypes.AUTO_FUNCTION_INVOCATION", "FilterTypes.FUNCTION_INVOCATION"),
)

__all__ = ["PLUGIN", "KitelogikFilter", "__version__"]
