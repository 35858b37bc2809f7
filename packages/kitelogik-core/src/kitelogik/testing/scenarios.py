"""The conformance scenarios, as data: the kit's tools, scripted model turns and expectations.

A scenario is a script of model turns (each turn: tool calls, or a final text) plus what must
happen when a framework's real agent loop runs it with the kit policy
(``kitelogik/testing/policy``): which tool bodies ran with which arguments, what the model
received as each call's result, and how many approvals were asked for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kitelogik.testing.fakes import SideEffectLog

__all__ = [
    "SCENARIOS",
    "Call",
    "Scenario",
    "ToolSpec",
    "Turn",
    "make_tools",
    "scenario",
]


@dataclass(frozen=True)
class Call:
    """One tool call the scripted model makes."""

    name: str
    args: Mapping[str, Any]
    id: str


@dataclass(frozen=True)
class Turn:
    """One model response: tool calls (possibly several = parallel calls) or a final text."""

    calls: tuple[Call, ...] = ()
    text: str | None = None


FINAL = Turn(text="done")


@dataclass(frozen=True)
class ToolSpec:
    """A kit tool: a real Python function (with type hints and a docstring, so frameworks can
    derive its schema) in a sync and an async form, and its JSON schema for frameworks that
    want one explicitly. Calling either form records the call in the side-effect log."""

    name: str
    description: str
    fn: Callable[..., Any]
    afn: Callable[..., Awaitable[Any]]
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class Scenario:
    id: str
    script: tuple[Turn, ...]
    #: (tool, arguments) that must have run, in any order (parallel calls may interleave).
    ran: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    #: call id -> text the model must have received in that call's result.
    seen: Mapping[str, str] = field(default_factory=dict)
    #: the scripted approver's answers, in order (see ScriptedApprover).
    approvals: tuple[str, ...] = ()
    #: number of calls that must wait for an approval.
    escalations: int = 0
    engine: Literal["kit", "failing"] = "kit"
    #: the tool bodies are themselves governed by the same gate (a nested enforcement point).
    nested: bool = False

    @property
    def calls(self) -> list[Call]:
        return [c for t in self.script for c in t.calls]


def _schema(**props: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": dict(props),
        "required": list(props),
        "additionalProperties": False,
    }


def make_tools(effects: SideEffectLog, *, governed_by: Any = None) -> list[ToolSpec]:
    """The kit's four tools, recording into ``effects``. With ``governed_by`` (a gate), each
    body is wrapped in ``@governed`` with the same gate, so a correct adapter's decision is
    reused (one decision per call) and a wrong one shows up as a second decision."""

    def lookup(key: str) -> str:
        """Look up the value stored under a key."""
        effects.record("lookup", {"key": key})
        return f"value-of-{key}"

    async def alookup(key: str) -> str:
        """Look up the value stored under a key."""
        effects.record("lookup", {"key": key})
        return f"value-of-{key}"

    def write_note(path: str, text: str, tags: list[str]) -> str:
        """Write a note to a file, with tags."""
        effects.record("write_note", {"path": path, "text": text, "tags": tags})
        return f"noted {path}"

    async def awrite_note(path: str, text: str, tags: list[str]) -> str:
        """Write a note to a file, with tags."""
        effects.record("write_note", {"path": path, "text": text, "tags": tags})
        return f"noted {path}"

    def transfer(amount: int, to: str) -> str:
        """Transfer an amount of money to someone."""
        effects.record("transfer", {"amount": amount, "to": to})
        return f"transferred {amount} to {to}"

    async def atransfer(amount: int, to: str) -> str:
        """Transfer an amount of money to someone."""
        effects.record("transfer", {"amount": amount, "to": to})
        return f"transferred {amount} to {to}"

    def delete_record(record_id: str) -> str:
        """Delete a record by id."""
        effects.record("delete_record", {"record_id": record_id})
        return f"deleted {record_id}"

    async def adelete_record(record_id: str) -> str:
        """Delete a record by id."""
        effects.record("delete_record", {"record_id": record_id})
        return f"deleted {record_id}"

    pairs: list[tuple[Callable[..., Any], Callable[..., Awaitable[Any]], dict[str, Any]]] = [
        (lookup, alookup, _schema(key={"type": "string"})),
        (
            write_note,
            awrite_note,
            _schema(
                path={"type": "string"},
                text={"type": "string"},
                tags={"type": "array", "items": {"type": "string"}},
            ),
        ),
        (transfer, atransfer, _schema(amount={"type": "integer"}, to={"type": "string"})),
        (delete_record, adelete_record, _schema(record_id={"type": "string"})),
    ]
    out = []
    for fn, afn, params in pairs:
        if governed_by is not None:
            from kitelogik.governed import governed

            fn = governed(gate=governed_by, action=fn.__name__)(fn)
            afn = governed(gate=governed_by, action=fn.__name__)(afn)
        out.append(ToolSpec(fn.__name__, (fn.__doc__ or "").strip(), fn, afn, params))
    return out


def _one(call: Call) -> tuple[Turn, ...]:
    return (Turn(calls=(call,)), FINAL)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        id="allow",
        script=_one(Call("lookup", {"key": "alpha"}, "call_1")),
        ran=(("lookup", {"key": "alpha"}),),
        seen={"call_1": "value-of-alpha"},
    ),
    Scenario(
        id="args-fidelity",
        script=_one(
            Call(
                "write_note",
                {
                    "path": "/srv/notes/../notes/ünï ☃.txt",
                    "text": 'héllo "quoted"\n\u2028end',
                    "tags": ["a", "b", "ü"],
                },
                "call_1",
            )
        ),
        ran=(
            (
                "write_note",
                {
                    "path": "/srv/notes/../notes/ünï ☃.txt",
                    "text": 'héllo "quoted"\n\u2028end',
                    "tags": ["a", "b", "ü"],
                },
            ),
        ),
        seen={"call_1": "noted /srv/notes/../notes/ünï ☃.txt"},
    ),
    Scenario(
        id="deny",
        script=_one(Call("delete_record", {"record_id": "r-1"}, "call_1")),
        seen={"call_1": "kit: deleting records is forbidden"},
    ),
    Scenario(
        id="escalate-approve",
        script=_one(Call("transfer", {"amount": 5, "to": "bob"}, "call_1")),
        ran=(("transfer", {"amount": 5, "to": "bob"}),),
        seen={"call_1": "transferred 5 to bob"},
        approvals=("approve",),
        escalations=1,
    ),
    Scenario(
        id="escalate-deny",
        script=_one(Call("transfer", {"amount": 5, "to": "bob"}, "call_1")),
        seen={"call_1": "rejected by the kit reviewer"},
        approvals=("deny",),
        escalations=1,
    ),
    Scenario(
        id="escalate-expire",
        script=_one(Call("transfer", {"amount": 5, "to": "bob"}, "call_1")),
        seen={"call_1": "approval request expired"},
        approvals=("expire",),
        escalations=1,
    ),
    Scenario(
        id="escalate-forged",
        script=_one(Call("transfer", {"amount": 9000, "to": "mallory"}, "call_1")),
        seen={"call_1": "not bound to this exact call"},
        approvals=("forge",),
        escalations=1,
    ),
    Scenario(
        id="parallel",
        script=(
            Turn(
                calls=(
                    Call("lookup", {"key": "alpha"}, "call_1"),
                    Call("lookup", {"key": "secret"}, "call_2"),
                )
            ),
            FINAL,
        ),
        ran=(("lookup", {"key": "alpha"}),),
        seen={"call_1": "value-of-alpha", "call_2": "kit: the key 'secret' may not be looked up"},
    ),
    Scenario(
        id="parallel-escalation",
        script=(
            Turn(
                calls=(
                    Call("transfer", {"amount": 7, "to": "carol"}, "call_1"),
                    Call("delete_record", {"record_id": "r-2"}, "call_2"),
                )
            ),
            FINAL,
        ),
        ran=(("transfer", {"amount": 7, "to": "carol"}),),
        seen={"call_1": "transferred 7 to carol", "call_2": "kit: deleting records is forbidden"},
        approvals=("approve",),
        escalations=1,
    ),
    Scenario(
        # Two escalations in one turn: each waits for its own approval; one is approved, the
        # other rejected (which one depends on the order the framework asks in, so the calls
        # are identical and only the count is fixed).
        id="parallel-two-escalations",
        script=(
            Turn(
                calls=(
                    Call("transfer", {"amount": 3, "to": "dave"}, "call_1"),
                    Call("transfer", {"amount": 3, "to": "dave"}, "call_2"),
                )
            ),
            FINAL,
        ),
        ran=(("transfer", {"amount": 3, "to": "dave"}),),
        approvals=("approve", "deny"),
        escalations=2,
    ),
    Scenario(
        id="engine-failure",
        script=_one(Call("lookup", {"key": "alpha"}, "call_1")),
        seen={"call_1": "policy engine error"},
        engine="failing",
    ),
    Scenario(
        id="nested",
        script=_one(Call("lookup", {"key": "alpha"}, "call_1")),
        ran=(("lookup", {"key": "alpha"}),),
        seen={"call_1": "value-of-alpha"},
        nested=True,
    ),
    Scenario(
        id="multi-turn",
        script=(
            Turn(calls=(Call("lookup", {"key": "alpha"}, "call_1"),)),
            Turn(calls=(Call("delete_record", {"record_id": "r-3"}, "call_2"),)),
            Turn(calls=(Call("lookup", {"key": "beta"}, "call_3"),)),
            FINAL,
        ),
        ran=(("lookup", {"key": "alpha"}), ("lookup", {"key": "beta"})),
        seen={
            "call_1": "value-of-alpha",
            "call_2": "kit: deleting records is forbidden",
            "call_3": "value-of-beta",
        },
    ),
)


def scenario(scenario_id: str) -> Scenario:
    for s in SCENARIOS:
        if s.id == scenario_id:
            return s
    raise KeyError(scenario_id)
