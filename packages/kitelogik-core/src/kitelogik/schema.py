"""The policy input document, as types, and its JSON Schema.

``PolicyInput`` is what every Rego rule receives as ``input``. The gate builds it in
``PolicyGate._input_document``; a test validates real documents of every event type against the
schema generated here, and another checks that ``policies/input.schema.json`` is current:

    python -m kitelogik.schema > policies/input.schema.json
"""

from __future__ import annotations

import json
import types
from typing import Any, Literal, TypedDict, Union, get_args, get_origin, get_type_hints

from kitelogik.events import EventType

__all__ = ["PolicyInput", "input_json_schema"]


class ResourceDoc(TypedDict):
    """Derived by the canonicalizer from the arguments, never taken from the caller."""

    paths: list[str]  # absolute, normalized; symlinks resolved where they exist
    hosts: list[str]  # lowercase, IDNA-decoded, no port or trailing dot; IPs in canonical form
    classification: str | None


class ContextDoc(TypedDict):
    session_id: str
    agent_id: str | None
    parent_agent_id: str | None
    user_role: str | None
    session_scopes: list[str]  # intersected with the verified credential's scopes
    delegation_depth: int
    framework: str | None


class CredentialDoc(TypedDict):
    """Verified claims only (present when a credential broker is configured)."""

    token_id: str
    session_id: str
    agent_id: str | None
    scopes: list[str]
    expires_at: int
    issued_at: int
    depth: int
    parent_id: str | None


class BudgetDoc(TypedDict, total=False):
    requested: dict[str, float]
    remaining: dict[str, float] | None
    reserved: bool


class PlanStepDoc(TypedDict):
    action: str
    event_type: str
    args: dict[str, Any]
    resource: ResourceDoc


class PlanDoc(TypedDict):
    steps: list[PlanStepDoc]


class SpawnDoc(TypedDict, total=False):
    requested_capabilities: list[str]
    parent_capabilities: list[str]
    child_scopes: list[str]
    depth: int
    target_agent_id: str | None


class AccessDoc(TypedDict):
    mode: Literal["read", "write"]


class SourceDoc(TypedDict):
    kind: str
    name: str
    trust: str
    trust_rank: int


class FlowDoc(TypedDict):
    """What the session has seen (kitelogik.flow.FlowGate)."""

    high_water: str | None
    labels: list[str]
    provenance: list[SourceDoc]
    min_trust: str | None


class AgentDoc(TypedDict, total=False):
    """The acting agent in the agent registry (kitelogik.agents, via FlowGate)."""

    known: bool
    alive: bool
    required: bool
    depth: int
    root: str | None


class PolicyInput(TypedDict, total=False):
    event_type: EventType
    action: str
    args: dict[str, Any]
    resource: ResourceDoc
    context: ContextDoc
    credential: CredentialDoc | None
    budget: BudgetDoc | None
    data_labels: list[str]
    plan: PlanDoc | None
    spawn: SpawnDoc | None
    tool: dict[str, Any] | None  # facts set by whoever registered the tool: external, risk_tier
    access: AccessDoc
    now_ns: int
    flow: FlowDoc | None  # control plane (docs/control-plane.md)
    agent: AgentDoc | None


# Documents that may carry extra keys (a budget ledger adds its own facts, e.g. per-tree totals).
_OPEN = frozenset({"BudgetDoc"})
_REQUIRED = (
    "event_type",
    "action",
    "args",
    "resource",
    "context",
    "credential",
    "budget",
    "data_labels",
    "plan",
    "spawn",
    "tool",
    "now_ns",
)


def _schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = get_origin(tp)
    if tp is Any:
        return {}
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is type(None):
        return {"type": "null"}
    if origin is Literal:
        return {"enum": list(get_args(tp))}
    if origin in (Union, types.UnionType):
        return {"anyOf": [_schema(a, defs) for a in get_args(tp)]}
    if origin is list:
        return {"type": "array", "items": _schema(get_args(tp)[0], defs)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema(get_args(tp)[1], defs)}
    if isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__annotations__"):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # reserve the name first (recursion guard)
            hints = get_type_hints(tp)
            required = sorted(getattr(tp, "__required_keys__", ()))
            if tp is PolicyInput:
                required = list(_REQUIRED)
            props = {k: _schema(v, defs) for k, v in hints.items()}
            doc = (tp.__doc__ or "").strip()
            defs[name] = {
                "type": "object",
                **({"description": doc} if doc and not doc.startswith("dict(") else {}),
                "properties": props,
                "required": required,
                "additionalProperties": name in _OPEN,
            }
        return {"$ref": f"#/$defs/{name}"}
    raise TypeError(f"no JSON Schema mapping for {tp!r}")


def input_json_schema() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    _schema(PolicyInput, defs)
    root = defs.pop("PolicyInput")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://kitelogik.dev/schemas/policy-input.json",
        "title": "Kite Logik policy input document",
        **root,
        "$defs": dict(sorted(defs.items())),
    }


def main() -> None:
    print(json.dumps(input_json_schema(), indent=2, sort_keys=False))


if __name__ == "__main__":
    main()
