"""The budget ledger's logic, shared by the SQLite and PostgreSQL stores.

Accounts
    ``session:<session_id>``, ``agent:<agent_id>`` for the acting agent *and every ancestor*
    (so a child's spend counts against its whole tree), and ``org:<organization>`` when the ledger
    is given an organization. An account limits only the dimensions it has a row for; a dimension
    without a row is not limited (and not tracked) for that account.

Reserve (one transaction)
    lock every row of the event's accounts in one global order (SQLite: ``BEGIN IMMEDIATE``;
    PostgreSQL: ``SELECT ... ORDER BY ... FOR UPDATE``), compute what remains per dimension (the
    minimum over the accounts), and -- only if every requested amount fits -- add the amounts to
    ``held`` and record the hold. Nothing is held when the request does not fit; the policy then
    sees ``reserved: false`` and a remaining amount below the requested one, and denies.

Commit / release
    a hold is settled exactly once (``state = 'held'`` is the guard): commit moves the actual cost
    (or, without one, the estimate) into ``used``; release just drops the hold. Actual spend is
    charged even when it exceeds the estimate -- it happened -- so later requests see less.

Amounts are floats: keep money in minor units (cents) for exact sums.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from kitelogik.events import GovernanceEvent, PlanProposal, ResourceUse
from kitelogik.protocols import Reservation

__all__ = [
    "DIMENSIONS",
    "BudgetError",
    "Estimator",
    "SQLBudgetLedger",
    "agent_account",
    "default_estimate",
    "org_account",
    "session_account",
]

#: The metered dimensions the shipped policy knows (``data.kitelogik.config.budget.keys``).
DIMENSIONS: tuple[str, ...] = ("tokens", "api_calls", "compute_ms", "money")

#: Longest ancestor chain followed for an agent (a guard against cycles and runaway trees).
MAX_TREE_DEPTH = 64

Estimator = Callable[[GovernanceEvent], Mapping[str, float]]
Rows = list[tuple[Any, ...]]


class BudgetError(ValueError):
    """A malformed amount (negative, not finite, not a number) or a malformed account name."""


def session_account(session_id: str) -> str:
    return f"session:{session_id}"


def agent_account(agent_id: str) -> str:
    return f"agent:{agent_id}"


def org_account(organization: str) -> str:
    return f"org:{organization}"


def default_estimate(event: GovernanceEvent) -> dict[str, float]:
    """The cost reserved for an event before it runs.

    ``ResourceUse``: its ``requested`` amounts. A tool call: one API call, overridden and
    extended by the tool's declared ``tool["cost"]`` (facts set by whoever registered the tool,
    never the model). A plan: one API call per step. Other events: nothing (the remaining budget
    is still shown to the policy)."""
    if isinstance(event, ResourceUse):
        return dict(event.requested)
    cost: dict[str, float] = {}
    if event.event_type == "tool_call":
        cost["api_calls"] = 1
    elif isinstance(event, PlanProposal):
        cost["api_calls"] = len(event.steps)
    tool = event.tool
    if isinstance(tool, Mapping):
        declared = tool.get("cost")
        if isinstance(declared, Mapping):
            cost.update(declared)
    return cost


def _amounts(value: Mapping[str, Any] | None, what: str) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BudgetError(f"{what} must be a mapping of dimension to amount")
    out: dict[str, float] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k:
            raise BudgetError(f"{what}: dimension names must be non-empty strings")
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise BudgetError(f"{what}.{k} must be a number")
        f = float(v)
        if not math.isfinite(f) or f < 0:
            raise BudgetError(f"{what}.{k} must be a finite non-negative number, got {v!r}")
        out[k] = f
    return out


class SQLBudgetLedger:
    """A :class:`~kitelogik.protocols.BudgetLedger` on a SQL database (see the module doc).

    Subclasses supply ``_tx()`` (a context manager yielding a query function inside one
    transaction that locks what it reads) and ``_autocommit()`` (single statements)."""

    #: Appended to the locking SELECT (PostgreSQL: ``FOR UPDATE``; SQLite locks the database).
    _lock_clause = ""

    def __init__(
        self,
        *,
        organization: str | None = None,
        session_limits: Mapping[str, float] | None = None,
        agent_limits: Mapping[str, float] | None = None,
        estimator: Estimator | None = None,
    ) -> None:
        self.organization = organization
        self.session_limits = _amounts(session_limits, "session_limits")
        self.agent_limits = _amounts(agent_limits, "agent_limits")
        self.estimator: Estimator = estimator or default_estimate
        self._ensured: set[str] = set()
        self._noted: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------ store hooks

    def _tx(self) -> AbstractContextManager[Callable[[str, Sequence[Any]], Rows]]:
        raise NotImplementedError

    def close(self) -> None:
        """Close the store's connections (subclasses)."""

    def _schema(self) -> Iterator[str]:
        yield (
            "CREATE TABLE IF NOT EXISTS kl_budget_limits (account TEXT NOT NULL, "
            "dimension TEXT NOT NULL, lim DOUBLE PRECISION NOT NULL, "
            "used DOUBLE PRECISION NOT NULL DEFAULT 0, held DOUBLE PRECISION NOT NULL DEFAULT 0, "
            "PRIMARY KEY (account, dimension))"
        )
        yield (
            "CREATE TABLE IF NOT EXISTS kl_budget_holds (id TEXT PRIMARY KEY, "
            "session_id TEXT, detail TEXT NOT NULL, state TEXT NOT NULL, "
            "created_at DOUBLE PRECISION NOT NULL, settled_at DOUBLE PRECISION, actual TEXT)"
        )
        yield (
            "CREATE TABLE IF NOT EXISTS kl_budget_agents (agent_id TEXT PRIMARY KEY, "
            "parent_id TEXT)"
        )

    def _init_schema(self) -> None:
        with self._tx() as q:
            for stmt in self._schema():
                q(stmt, ())

    # ------------------------------------------------------------------ configuration

    def set_limits(self, account: str, limits: Mapping[str, float]) -> None:
        """Set (or change) the limits of an account, keeping what it has used and holds."""
        amounts = _amounts(limits, "limits")
        if not isinstance(account, str) or ":" not in account:
            raise BudgetError("account must look like 'session:<id>', 'agent:<id>' or 'org:<id>'")
        with self._tx() as q:
            for dim, lim in sorted(amounts.items()):
                q(
                    "INSERT INTO kl_budget_limits (account, dimension, lim) VALUES (%s, %s, %s) "
                    "ON CONFLICT (account, dimension) DO UPDATE SET lim = excluded.lim",
                    (account, dim, lim),
                )
        self._ensured.add(account)

    def register_agent(self, agent_id: str, parent_id: str | None) -> None:
        """Record an agent's parent (first registration wins: a child cannot later detach
        itself from its tree). ``kitelogik.agents.AgentRegistry`` calls this on every spawn."""
        if parent_id == agent_id:
            raise BudgetError("an agent cannot be its own parent")
        with self._tx() as q:
            q(
                "INSERT INTO kl_budget_agents (agent_id, parent_id) VALUES (%s, %s) "
                "ON CONFLICT (agent_id) DO NOTHING",
                (agent_id, parent_id),
            )

    def usage(self, account: str) -> dict[str, dict[str, float]]:
        """``{dimension: {"limit", "used", "held", "remaining"}}`` for one account."""
        with self._tx() as q:
            rows = q(
                "SELECT dimension, lim, used, held FROM kl_budget_limits WHERE account = %s "
                "ORDER BY dimension",
                (account,),
            )
        return {
            r[0]: {"limit": r[1], "used": r[2], "held": r[3], "remaining": r[1] - r[2] - r[3]}
            for r in rows
        }

    def open_holds(self) -> int:
        with self._tx() as q:
            return int(q("SELECT COUNT(*) FROM kl_budget_holds WHERE state = 'held'", ())[0][0])

    def release_stale(self, older_than_seconds: float) -> int:
        """Release holds older than the given age (a process that died between reserve and
        settle leaves its hold behind). Returns how many were released."""
        cutoff = time.time() - older_than_seconds
        with self._tx() as q:
            ids = [
                r[0]
                for r in q(
                    "SELECT id FROM kl_budget_holds WHERE state = 'held' AND created_at < %s",
                    (cutoff,),
                )
            ]
        for hold_id in ids:
            self._settle(hold_id, None, commit=False)
        return len(ids)

    # ------------------------------------------------------------------ accounts of an event

    def _ensure_defaults(
        self, q: Callable[[str, Sequence[Any]], Rows], account: str, limits: Mapping[str, float]
    ) -> None:
        if not limits or account in self._ensured:
            return
        for dim, lim in sorted(limits.items()):
            q(
                "INSERT INTO kl_budget_limits (account, dimension, lim) VALUES (%s, %s, %s) "
                "ON CONFLICT (account, dimension) DO NOTHING",
                (account, dim, lim),
            )
        self._ensured.add(account)

    def _prepare(self, event: GovernanceEvent) -> None:
        """Create default limits and record the agent's parent from the context (first
        registration wins) in a short transaction of their own -- only when this process has
        not done so yet -- so the locking transaction only ever touches existing rows, in one
        order (no deadlocks)."""
        ctx = event.context
        session = session_account(ctx.session_id)
        agent = ctx.agent_id
        todo_session = bool(self.session_limits) and session not in self._ensured
        todo_agent = (
            bool(agent)
            and bool(self.agent_limits)
            and (agent_account(agent or "") not in self._ensured)
        )
        todo_parent = bool(
            agent
            and ctx.parent_agent_id
            and ctx.parent_agent_id != agent
            and (agent, ctx.parent_agent_id) not in self._noted
        )
        if not (todo_session or todo_agent or todo_parent):
            return
        with self._tx() as q:
            if todo_session:
                self._ensure_defaults(q, session, self.session_limits)
            if todo_parent:
                q(
                    "INSERT INTO kl_budget_agents (agent_id, parent_id) VALUES (%s, %s) "
                    "ON CONFLICT (agent_id) DO NOTHING",
                    (agent, ctx.parent_agent_id),
                )
            if todo_agent:
                self._ensure_defaults(q, agent_account(agent or ""), self.agent_limits)
        if todo_parent:
            self._noted.add((agent or "", ctx.parent_agent_id or ""))

    def _accounts(
        self, q: Callable[[str, Sequence[Any]], Rows], event: GovernanceEvent
    ) -> list[str]:
        """The accounts an event is charged to: its session, the acting agent and every
        ancestor (read inside the reserving transaction), and the organization."""
        ctx = event.context
        accounts = [session_account(ctx.session_id)]
        seen: set[str] = set()
        current: str | None = ctx.agent_id
        while current and current not in seen and len(seen) < MAX_TREE_DEPTH:
            seen.add(current)
            accounts.append(agent_account(current))
            rows = q("SELECT parent_id FROM kl_budget_agents WHERE agent_id = %s", (current,))
            current = rows[0][0] if rows else None
        if self.organization:
            accounts.append(org_account(self.organization))
        return sorted(set(accounts))

    # ------------------------------------------------------------------ the protocol

    def _lock_rows_sql(self, n: int) -> str:
        """Every limit row of ``n`` accounts, locked in one global order. Only placeholders and
        the fixed lock clause are formatted in; values are always bound parameters."""
        marks = ", ".join(["%s"] * n)
        sql = "SELECT account, dimension, lim, used, held FROM kl_budget_limits WHERE account IN "
        return sql + f"({marks}) ORDER BY account, dimension{self._lock_clause}"

    def reserve(self, event: GovernanceEvent) -> Reservation:
        requested = _amounts(self.estimator(event), "requested")
        self._prepare(event)
        with self._tx() as q:
            accounts = self._accounts(q, event)
            rows = q(self._lock_rows_sql(len(accounts)), tuple(accounts))
            by_account: dict[str, dict[str, float]] = {}
            remaining: dict[str, float] = {}
            for account, dim, lim, used, held in rows:
                left = float(lim) - float(used) - float(held)
                by_account.setdefault(account, {})[dim] = left
                remaining[dim] = min(remaining.get(dim, math.inf), left)
            granted = all(amt <= remaining[d] for d, amt in requested.items() if d in remaining)
            extra = {"accounts": accounts, "by_account": by_account}
            if not granted:
                return Reservation(None, requested, remaining, False, extra)
            holds = [
                (account, dim, requested[dim])
                for account, dim, *_ in rows
                if requested.get(dim, 0) > 0
            ]
            for account, dim, amt in holds:
                q(
                    "UPDATE kl_budget_limits SET held = held + %s "
                    "WHERE account = %s AND dimension = %s",
                    (amt, account, dim),
                )
            hold_id = str(uuid.uuid4())
            detail = json.dumps({"accounts": accounts, "held": holds, "requested": requested})
            q(
                "INSERT INTO kl_budget_holds (id, session_id, detail, state, created_at) "
                "VALUES (%s, %s, %s, 'held', %s)",
                (hold_id, event.context.session_id, detail, time.time()),
            )
        return Reservation(hold_id, requested, remaining, True, extra)

    def commit(self, reservation: Reservation, actual: Mapping[str, float] | None) -> None:
        if reservation.id is None:
            return
        try:
            charge = None if actual is None else _amounts(actual, "actual")
        except BudgetError:
            charge = None  # a malformed report: charge the (conservative) estimate
        self._settle(reservation.id, charge, commit=True)

    def release(self, reservation: Reservation) -> None:
        if reservation.id is None:
            return
        self._settle(reservation.id, None, commit=False)

    def _settle(self, hold_id: str, actual: dict[str, float] | None, *, commit: bool) -> None:
        with self._tx() as q:
            rows = q(
                "SELECT state, detail FROM kl_budget_holds WHERE id = %s" + self._lock_clause,  # noqa: S608
                (hold_id,),
            )
            if not rows or rows[0][0] != "held":
                return  # unknown or already settled: settling twice never double-counts
            detail = json.loads(rows[0][1])
            accounts = detail["accounts"]
            # Lock the rows in the same global order as reserve does (no deadlocks).
            q(self._lock_rows_sql(len(accounts)), tuple(accounts))
            for account, dim, amt in detail["held"]:
                q(
                    "UPDATE kl_budget_limits SET held = held - %s "
                    "WHERE account = %s AND dimension = %s",
                    (amt, account, dim),
                )
            if commit:
                charge = detail["requested"] if actual is None else actual
                for account in accounts:
                    for dim, amt in sorted(charge.items()):
                        if amt > 0:
                            q(
                                "UPDATE kl_budget_limits SET used = used + %s "
                                "WHERE account = %s AND dimension = %s",
                                (amt, account, dim),
                            )
            q(
                "UPDATE kl_budget_holds SET state = %s, settled_at = %s, actual = %s WHERE id = %s",
                (
                    "committed" if commit else "released",
                    time.time(),
                    json.dumps(actual) if actual is not None else None,
                    hold_id,
                ),
            )

    async def areserve(self, event: GovernanceEvent) -> Reservation:
        import asyncio

        return await asyncio.to_thread(self.reserve, event)

    async def acommit(self, reservation: Reservation, actual: Mapping[str, float] | None) -> None:
        import asyncio

        await asyncio.to_thread(self.commit, reservation, actual)

    async def arelease(self, reservation: Reservation) -> None:
        import asyncio

        await asyncio.to_thread(self.release, reservation)
