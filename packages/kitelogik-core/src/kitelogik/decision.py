"""The decision a gate returns, and the error raised when an enforcement point refuses."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["allow", "deny", "escalate"]

__all__ = ["Decision", "GovernanceError", "Verdict", "new_decision_id"]


_entropy = bytearray()
_entropy_lock = threading.Lock()


def _reset_entropy() -> None:
    # A forked child must never reuse the parent's buffered randomness (duplicate ids).
    _entropy.clear()


os.register_at_fork(after_in_child=_reset_entropy)


def new_decision_id() -> str:
    """A UUIDv7 (RFC 9562): time-ordered, so audit records sort by id, and 74 random bits make
    collisions between processes practically impossible. Python 3.11 has no ``uuid.uuid7``.
    Randomness is read from the OS in blocks: one syscall per id cost more than the rest."""
    with _entropy_lock:
        if len(_entropy) < 10:
            _entropy.extend(os.urandom(4096))
        rand = bytes(_entropy[-10:])
        del _entropy[-10:]
    raw = (
        (time.time_ns() // 1_000_000).to_bytes(6, "big")
        + bytes((0x70 | rand[0] & 0x0F, rand[1], 0x80 | rand[2] & 0x3F))
        + rand[3:]
    )
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy decided for one event.

    ``verdict`` follows the fixed order: ``deny`` (final) > ``escalate`` > ``allow`` > deny by
    default. ``reasons`` is never empty for a deny. ``args`` is the frozen copy of the arguments
    that was decided on: enforcement points run the action with exactly these.
    """

    id: str
    verdict: Verdict
    reasons: tuple[str, ...]
    risk_tier: str
    rules: tuple[str, ...]
    engine: str
    latency: float  # seconds, the whole decision routine
    event_type: str = ""
    action: str = ""
    session_id: str = ""
    args: Mapping[str, Any] = field(default_factory=dict, repr=False)
    obligations: Mapping[str, Any] = field(default_factory=dict)
    #: The decision id reported by a remote engine (OPA's ``decision_id``), if any.
    engine_decision_id: str | None = None
    #: The engine's ``policy_version`` (a hash of the loaded policy set) when it decided.
    policy_version: str = ""
    #: Set by enforcement points when a human decided an escalation.
    approval: Mapping[str, Any] | None = None
    #: The budget reservation held for this decision (settled by ``record_outcome``).
    reservation: Any = field(default=None, repr=False, compare=False)
    #: The policy input document that was evaluated (None when the pipeline stopped earlier).
    input: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def allowed(self) -> bool:
        return self.verdict == "allow"

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    @property
    def binding_digest(self) -> str:
        """SHA-256 of the canonical JSON of (event type, action, args, session, decision id):
        what a human approval is bound to, so it is useless for any other call."""
        from kitelogik.jcs import sha256_hex

        return sha256_hex(
            {
                "event_type": self.event_type,
                "action": self.action,
                "args": self.args,
                "session_id": self.session_id,
                "decision_id": self.id,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "risk_tier": self.risk_tier,
            "rules": list(self.rules),
            "engine": self.engine,
            "latency_us": round(self.latency * 1e6, 1),
            "event_type": self.event_type,
            "action": self.action,
            "session_id": self.session_id,
            "obligations": dict(self.obligations),
            "engine_decision_id": self.engine_decision_id,
            "policy_version": self.policy_version,
            "approval": dict(self.approval) if self.approval is not None else None,
        }


class GovernanceError(PermissionError):
    """Raised by ``@governed``, :class:`GovernedToolbox` and plugins when an action is not
    allowed to run. Carries the decision, whose reasons say why."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__(
            f"{decision.action or 'action'} {decision.verdict}: {decision.reason}"
            f" [decision {decision.id}]"
        )
