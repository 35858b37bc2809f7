"""The protocol every policy engine implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

#: The Rego rule every engine evaluates.
DECISION_PATH = "data.kitelogik.main.decision"


class EngineError(RuntimeError):
    """The engine could not produce a decision (the gate denies with this message)."""


@dataclass(frozen=True, slots=True)
class EngineResult:
    #: The decision document, or None when the rule is undefined (a deny).
    document: Any
    #: The engine's own id for the evaluation (OPA's ``decision_id``), when it has one.
    decision_id: str | None = None


@runtime_checkable
class PolicyEngine(Protocol):
    """Evaluates ``data.kitelogik.main.decision`` for one input document.

    ``input_json`` is the serialized input; engines receive text so it is encoded once per
    decision. Implementations raise :class:`EngineError` (or anything else: the gate treats
    every exception as a deny) and never return a partial result.
    """

    name: str

    @property
    def policy_version(self) -> str:
        """A stable hash of the loaded policy set (recorded with every decision)."""
        ...

    def evaluate(self, input_json: str) -> EngineResult: ...

    async def aevaluate(self, input_json: str) -> EngineResult: ...
