"""Governance events and the session context.

Each event class is one kind of thing an agent may want to do. The gate turns an event into the
policy input document (see ``policies/README.md``); :func:`input_json_schema` describes that
document and is checked in as ``policies/input.schema.json``.

Events are plain frozen dataclasses: they are built on the hot path of every decision, and a
validating model layer would cost more than the policy evaluation it guards. Validation of the
values happens once, in the canonicalizer, where every bad value becomes a deny.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

EventType = Literal[
    "tool_call", "agent.spawn", "agent.delegate", "plan", "resource.use", "data.access"
]
EVENT_TYPES: tuple[str, ...] = (
    "tool_call",
    "agent.spawn",
    "agent.delegate",
    "plan",
    "resource.use",
    "data.access",
)


@dataclass(frozen=True, slots=True)
class SessionContext:
    """Who is acting. ``session_scopes`` is what the host claims; with a credential broker
    configured the policy only ever sees the intersection with the verified token's scopes."""

    session_id: str
    agent_id: str | None = None
    parent_agent_id: str | None = None
    user_role: str | None = None
    session_scopes: Sequence[str] = ()
    delegation_depth: int = 0
    token: str | None = None
    framework: str | None = None
    # The validated policy-input form of this context, built on first use. Safe to cache because
    # __post_init__ copies the scopes into a tuple: the context cannot change afterwards.
    _doc: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        scopes = self.session_scopes
        if isinstance(scopes, list | tuple):
            object.__setattr__(self, "session_scopes", tuple(scopes))

    def with_framework(self, framework: str) -> SessionContext:
        """A copy tagged with the framework that produced the event (set by plugins)."""
        return SessionContext(
            session_id=self.session_id,
            agent_id=self.agent_id,
            parent_agent_id=self.parent_agent_id,
            user_role=self.user_role,
            session_scopes=self.session_scopes,
            delegation_depth=self.delegation_depth,
            token=self.token,
            framework=framework,
        )


@dataclass(frozen=True, slots=True)
class GovernanceEvent:
    """Base of all events. Subclasses fix ``event_type`` and may add typed fields that are
    copied into the policy input by :meth:`extra_input`."""

    event_type: ClassVar[str] = ""

    action: str
    args: Mapping[str, Any] = field(default_factory=dict)
    context: SessionContext = field(default_factory=lambda: SessionContext(session_id=""))
    #: Labels of the data involved (``public`` < ``internal`` < ``confidential`` < ``restricted``).
    data_labels: Sequence[str] = ()
    #: Classification of the target resource, if known to the caller.
    classification: str | None = None
    #: Facts about the tool itself (``external``, ``risk_tier``, ``labels``), set by whoever
    #: registered the tool -- never by the model.
    tool: Mapping[str, Any] | None = None

    def extra_input(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True, slots=True)
class ToolCall(GovernanceEvent):
    """A call of a tool (function) with arguments."""

    event_type: ClassVar[str] = "tool_call"


@dataclass(frozen=True, slots=True)
class AgentSpawn(GovernanceEvent):
    """An agent creating a child agent. ``action`` names the child (or its kind)."""

    event_type: ClassVar[str] = "agent.spawn"
    requested_capabilities: Sequence[str] = ()
    parent_capabilities: Sequence[str] = ()

    def extra_input(self) -> dict[str, Any]:
        return {
            "spawn": {
                "requested_capabilities": list(self.requested_capabilities),
                "parent_capabilities": list(self.parent_capabilities),
                "child_scopes": list(self.requested_capabilities),
                "depth": self.context.delegation_depth + 1,
            }
        }


@dataclass(frozen=True, slots=True)
class Delegation(GovernanceEvent):
    """An agent handing work (and a narrowed authority) to another agent."""

    event_type: ClassVar[str] = "agent.delegate"
    child_scopes: Sequence[str] = ()
    target_agent_id: str | None = None

    def extra_input(self) -> dict[str, Any]:
        return {
            "spawn": {
                "requested_capabilities": list(self.child_scopes),
                "parent_capabilities": list(self.context.session_scopes),
                "child_scopes": list(self.child_scopes),
                "depth": self.context.delegation_depth + 1,
                "target_agent_id": self.target_agent_id,
            }
        }


@dataclass(frozen=True, slots=True)
class PlanStep:
    action: str
    args: Mapping[str, Any] = field(default_factory=dict)
    event_type: str = "tool_call"


@dataclass(frozen=True, slots=True)
class PlanProposal(GovernanceEvent):
    """A multi-step plan, decided as a whole before any step runs."""

    event_type: ClassVar[str] = "plan"
    steps: Sequence[PlanStep] = ()

    def extra_input(self) -> dict[str, Any]:
        return {
            "plan": {
                "steps": [
                    {"action": s.action, "args": s.args, "event_type": s.event_type}
                    for s in self.steps
                ]
            }
        }


@dataclass(frozen=True, slots=True)
class ResourceUse(GovernanceEvent):
    """Consumption of a metered resource (tokens, API calls, compute, money)."""

    event_type: ClassVar[str] = "resource.use"
    requested: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DataAccess(GovernanceEvent):
    """Reading or writing a data source with a classification."""

    event_type: ClassVar[str] = "data.access"
    mode: Literal["read", "write"] = "read"

    def extra_input(self) -> dict[str, Any]:
        return {"access": {"mode": self.mode}}


EVENT_CLASSES: dict[str, type[GovernanceEvent]] = {
    cls.event_type: cls
    for cls in (ToolCall, AgentSpawn, Delegation, PlanProposal, ResourceUse, DataAccess)
}
