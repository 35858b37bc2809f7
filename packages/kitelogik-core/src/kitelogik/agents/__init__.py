"""Agent lifecycle: a registry of live agents per tree, governed spawn and delegation, and
killing a tree (which revokes every credential in it). See ``docs/control-plane.md``."""

from __future__ import annotations

from kitelogik.agents.registry import (
    AgentError,
    AgentRecord,
    AgentRegistry,
    Delegated,
    Spawned,
)

__all__ = ["AgentError", "AgentRecord", "AgentRegistry", "Delegated", "Spawned"]
