"""Resource budgets reserved before an action runs (``PolicyGate(budget=ledger)``).

Budgets are kept per session, per agent tree (a child's spend counts against every ancestor) and
per organization, in the dimensions ``tokens``, ``api_calls``, ``compute_ms`` and ``money``.
The gate reserves the estimated cost atomically before the policy is evaluated, shows the policy
what remains (``input.budget``), and after the action commits the actual cost or releases the
hold. See ``docs/control-plane.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kitelogik.budgets._core import (
    DIMENSIONS,
    BudgetError,
    Estimator,
    SQLBudgetLedger,
    agent_account,
    default_estimate,
    org_account,
    session_account,
)
from kitelogik.budgets.sqlite import SQLiteBudgetLedger

if TYPE_CHECKING:
    from kitelogik.budgets.postgres import PostgresBudgetLedger

__all__ = [
    "DIMENSIONS",
    "BudgetError",
    "Estimator",
    "PostgresBudgetLedger",
    "SQLBudgetLedger",
    "SQLiteBudgetLedger",
    "agent_account",
    "default_estimate",
    "org_account",
    "session_account",
]


def __getattr__(name: str) -> Any:
    if name == "PostgresBudgetLedger":
        from kitelogik.budgets.postgres import PostgresBudgetLedger

        return PostgresBudgetLedger
    raise AttributeError(f"module 'kitelogik.budgets' has no attribute {name!r}")
