"""The interfaces the gate talks to. The gate knows these protocols, never a concrete store.

Each has a sync and an async method with the same meaning; the gate's single decision routine
asks for an operation and the sync (``check``) or async (``acheck``) driver performs it. An
implementation without real async I/O may make the async method call the sync one.

Every method may raise: the gate turns any exception into a deny that names what failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from kitelogik.decision import Decision
    from kitelogik.events import GovernanceEvent

__all__ = [
    "ApprovalResult",
    "Approver",
    "AuditSink",
    "BudgetLedger",
    "CredentialError",
    "CredentialVerifier",
    "Outcome",
    "Reservation",
    "VerifiedCredential",
]

Outcome = Literal["ran", "failed", "skipped"]


class CredentialError(PermissionError):
    """A token that may not be used; the message is the precise deny reason."""


@dataclass(frozen=True, slots=True)
class VerifiedCredential:
    """Claims of a token whose signature, expiry, revocation and session were checked."""

    token_id: str
    session_id: str
    scopes: tuple[str, ...]
    expires_at: int
    depth: int = 0
    agent_id: str | None = None
    parent_id: str | None = None
    issued_at: int = 0

    def to_input(self) -> dict[str, Any]:
        return {
            "token_id": self.token_id,
            "session_id": self.session_id,
            "agent_id": self.agent_id,
            "scopes": list(self.scopes),
            "expires_at": self.expires_at,
            "issued_at": self.issued_at,
            "depth": self.depth,
            "parent_id": self.parent_id,
        }


@runtime_checkable
class CredentialVerifier(Protocol):
    def verify_for(self, token: str | None, session_id: str) -> VerifiedCredential:
        """Verify ``token`` for ``session_id`` or raise :class:`CredentialError`."""
        ...

    async def averify_for(self, token: str | None, session_id: str) -> VerifiedCredential: ...


@dataclass(frozen=True, slots=True)
class Reservation:
    """A hold on budget taken before the action runs. ``granted`` is False when the remaining
    budget could not cover ``requested`` (nothing is held then; the policy denies)."""

    id: str | None
    requested: Mapping[str, float]
    remaining: Mapping[str, float]
    granted: bool
    extra: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class BudgetLedger(Protocol):
    def reserve(self, event: GovernanceEvent) -> Reservation: ...

    async def areserve(self, event: GovernanceEvent) -> Reservation: ...

    def commit(self, reservation: Reservation, actual: Mapping[str, float] | None) -> None: ...

    async def acommit(
        self, reservation: Reservation, actual: Mapping[str, float] | None
    ) -> None: ...

    def release(self, reservation: Reservation) -> None: ...

    async def arelease(self, reservation: Reservation) -> None: ...


@runtime_checkable
class AuditSink(Protocol):
    """Writes a record of every decision before the action runs, and its outcome after."""

    def record_decision(self, decision: Decision) -> None: ...

    async def arecord_decision(self, decision: Decision) -> None: ...

    def record_outcome(self, decision: Decision, outcome: Outcome, error: str | None) -> None: ...

    async def arecord_outcome(
        self, decision: Decision, outcome: Outcome, error: str | None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class ApprovalResult:
    approved: bool
    reason: str
    approvers: tuple[str, ...] = ()
    request_id: str | None = None
    digest: str | None = None
    status: str = ""  # approved | denied | expired | error


@runtime_checkable
class Approver(Protocol):
    """Asks a human about an escalated decision and waits for a bound answer."""

    def wait_for_approval(
        self, decision: Decision, event: GovernanceEvent, timeout: float
    ) -> ApprovalResult: ...

    async def await_approval(
        self, decision: Decision, event: GovernanceEvent, timeout: float
    ) -> ApprovalResult: ...
