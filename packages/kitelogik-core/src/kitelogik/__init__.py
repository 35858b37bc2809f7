"""Kite Logik: every action an AI agent takes is decided by policy before it happens.

The public API is deliberately small; everything else lives in submodules
(``kitelogik.anchor.credentials``, ``kitelogik.audit``, ``kitelogik.engines`` ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kitelogik.decision import Decision, GovernanceError
from kitelogik.engines.rego import RegoEngine
from kitelogik.events import (
    AgentSpawn,
    DataAccess,
    Delegation,
    PlanProposal,
    PlanStep,
    ResourceUse,
    SessionContext,
    ToolCall,
)
from kitelogik.gate import PolicyGate
from kitelogik.governed import GovernedToolbox, governed, session

if TYPE_CHECKING:
    from kitelogik.engines.opa import OPAClient

__version__ = "0.1.0"

__all__ = [
    "AgentSpawn",
    "DataAccess",
    "Decision",
    "Delegation",
    "GovernanceError",
    "GovernedToolbox",
    "OPAClient",
    "PlanProposal",
    "PlanStep",
    "PolicyGate",
    "RegoEngine",
    "ResourceUse",
    "SessionContext",
    "ToolCall",
    "__version__",
    "governed",
    "session",
]


def __getattr__(name: str) -> Any:
    # OPAClient pulls in httpx; load it only when asked for.
    if name == "OPAClient":
        from kitelogik.engines.opa import OPAClient

        return OPAClient
    raise AttributeError(f"module 'kitelogik' has no attribute {name!r}")
