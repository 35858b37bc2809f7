"""Agent memory with trust tiers and provenance (defence against memory poisoning, ASI06).

See :class:`MemoryStore` and ``docs/control-plane.md``."""

from __future__ import annotations

from kitelogik.flow import Source
from kitelogik.memory.store import (
    TIERS,
    MemoryEntry,
    MemoryPolicyError,
    MemoryStore,
)

__all__ = ["TIERS", "MemoryEntry", "MemoryPolicyError", "MemoryStore", "Source"]
