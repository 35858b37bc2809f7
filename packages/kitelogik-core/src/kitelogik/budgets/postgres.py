"""The PostgreSQL budget ledger (psycopg 3; extra ``kitelogik-core[postgres]``): one budget shared
by a fleet of agents on many machines, e.g. an organization-wide budget.

A reservation locks the rows of its accounts with ``SELECT ... ORDER BY account, dimension FOR
UPDATE`` (one global lock order, so concurrent reservations cannot deadlock each other), checks
what remains and holds the amounts, all in one transaction: concurrent reservations on any number
of machines never overspend. A transaction that PostgreSQL aborts as a deadlock or serialization
failure is retried a few times before the error reaches the gate (which then denies).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from kitelogik.budgets._core import Estimator, Rows, SQLBudgetLedger

__all__ = ["PostgresBudgetLedger"]


class PostgresBudgetLedger(SQLBudgetLedger):
    """Budgets in PostgreSQL. ``dsn`` is a libpq connection string. One connection per thread."""

    _lock_clause = " FOR UPDATE"

    def __init__(
        self,
        dsn: str,
        *,
        organization: str | None = None,
        session_limits: Mapping[str, float] | None = None,
        agent_limits: Mapping[str, float] | None = None,
        estimator: Estimator | None = None,
        retries: int = 5,
    ) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ImportError(
                "PostgresBudgetLedger needs psycopg: pip install 'kitelogik-core[postgres]'"
            ) from exc
        super().__init__(
            organization=organization,
            session_limits=session_limits,
            agent_limits=agent_limits,
            estimator=estimator,
        )
        self.dsn = dsn
        self.retries = retries
        self._local = threading.local()
        self._conns: list[Any] = []
        self._conns_lock = threading.Lock()
        self._init_schema()

    def _conn(self) -> Any:
        import psycopg

        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg.connect(self.dsn, autocommit=True)
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    @contextmanager
    def _tx(self) -> Iterator[Callable[[str, Sequence[Any]], Rows]]:
        conn = self._conn()

        def q(sql: str, params: Sequence[Any]) -> Rows:
            cur = conn.execute(sql, tuple(params))  # type: ignore[arg-type]
            return cur.fetchall() if cur.description is not None else []

        with conn.transaction():
            yield q

    def _retrying(self, fn: Callable[[], Any]) -> Any:
        import psycopg.errors

        for attempt in range(self.retries + 1):
            try:
                return fn()
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                if attempt == self.retries:
                    raise
        return None  # pragma: no cover

    def reserve(self, event: Any) -> Any:
        return self._retrying(lambda: super(PostgresBudgetLedger, self).reserve(event))

    def _settle(self, hold_id: str, actual: dict[str, float] | None, *, commit: bool) -> None:
        self._retrying(
            lambda: super(PostgresBudgetLedger, self)._settle(hold_id, actual, commit=commit)
        )

    def close(self) -> None:
        """Close every connection this ledger opened (in any thread)."""
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
