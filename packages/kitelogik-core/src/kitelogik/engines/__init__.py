"""Policy engines: the embedded Rego engine (default) and the OPA server client.

Both implement :class:`~kitelogik.engines.base.PolicyEngine`; the gate only knows that protocol.
"""

from kitelogik.engines.base import EngineError, EngineResult, PolicyEngine
from kitelogik.engines.rego import RegoEngine

__all__ = ["EngineError", "EngineResult", "PolicyEngine", "RegoEngine"]
