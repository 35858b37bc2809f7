"""What an approval request is, and the errors the queue raises."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kitelogik.jcs import sha256_hex

__all__ = [
    "ApprovalConflict",
    "ApprovalError",
    "ApprovalRequest",
    "AuthenticationError",
    "NotAuthorized",
    "SeparationOfDutiesError",
    "Status",
    "UnknownRequest",
    "Vote",
    "binding_digest",
]

Status = Literal["pending", "approved", "denied", "expired"]
VoteKind = Literal["approve", "deny"]


class ApprovalError(Exception):
    """Base class of every refusal by the approval queue."""


class UnknownRequest(ApprovalError, LookupError):
    """No approval request has this id."""


class ApprovalConflict(ApprovalError):
    """The request is not in a state that allows this (decided, expired, used, digest differs)."""


class SeparationOfDutiesError(ApprovalError, PermissionError):
    """The approver is a principal of the session that asked: it may not approve its own call."""


class AuthenticationError(ApprovalError, PermissionError):
    """The reviewer could not be authenticated."""


class NotAuthorized(ApprovalError, PermissionError):
    """The reviewer is authenticated but lacks the role for this."""


def binding_digest(
    event_type: str, action: str, args: Any, session_id: str, decision_id: str
) -> str:
    """The digest an approval is bound to; identical to ``Decision.binding_digest``."""
    return sha256_hex(
        {
            "event_type": event_type,
            "action": action,
            "args": args,
            "session_id": session_id,
            "decision_id": decision_id,
        }
    )


@dataclass(frozen=True, slots=True)
class Vote:
    approver: str
    vote: VoteKind
    reason: str
    at: float
    via: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "approver": self.approver,
            "vote": self.vote,
            "reason": self.reason,
            "at": self.at,
            "via": self.via,
        }


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """One escalated call waiting for (or decided by) humans.

    ``digest`` is the decision's binding digest; :meth:`bound_digest` recomputes it from the
    stored call, so a request whose stored arguments were altered no longer matches.
    """

    id: str
    digest: str
    decision_id: str
    event_type: str
    action: str
    args: Mapping[str, Any]
    session_id: str
    status: Status
    quorum: int
    created_at: float
    expires_at: float
    risk_tier: str = ""
    reasons: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    agent_id: str | None = None
    user_role: str | None = None
    framework: str | None = None
    principals: tuple[str, ...] = ()
    decided_at: float | None = None
    consumed_at: float | None = None
    votes: tuple[Vote, ...] = field(default=())

    def bound_digest(self) -> str:
        return binding_digest(
            self.event_type, self.action, self.args, self.session_id, self.decision_id
        )

    @property
    def approvers(self) -> tuple[str, ...]:
        return tuple(v.approver for v in self.votes if v.vote == "approve")

    def effective_status(self, now: float) -> Status:
        """``pending`` past its expiry reads as ``expired`` even before it is marked so."""
        if self.status == "pending" and now >= self.expires_at:
            return "expired"
        return self.status

    def body(self) -> str:
        """The JSON column that holds the descriptive fields."""
        return json.dumps(
            {
                "event_type": self.event_type,
                "action": self.action,
                "args": self.args,
                "risk_tier": self.risk_tier,
                "reasons": list(self.reasons),
                "rules": list(self.rules),
                "agent_id": self.agent_id,
                "user_role": self.user_role,
                "framework": self.framework,
                "principals": list(self.principals),
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "digest": self.digest,
            "decision_id": self.decision_id,
            "event_type": self.event_type,
            "action": self.action,
            "args": dict(self.args),
            "session_id": self.session_id,
            "agent_id": self.agent_id,
            "user_role": self.user_role,
            "framework": self.framework,
            "risk_tier": self.risk_tier,
            "reasons": list(self.reasons),
            "rules": list(self.rules),
            "quorum": self.quorum,
            "approvals": len(self.approvers),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "decided_at": self.decided_at,
            "consumed_at": self.consumed_at,
            "votes": [v.to_dict() for v in self.votes],
        }
