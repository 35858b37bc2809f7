"""The SQLite budget ledger: the embedded default (one file, WAL).

Every reservation runs in a ``BEGIN IMMEDIATE`` transaction, which takes the database's write
lock before reading: reservations from any number of threads and processes on the same file are
serialized, so they can never overspend.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kitelogik.budgets._core import Estimator, Rows, SQLBudgetLedger

__all__ = ["SQLiteBudgetLedger", "default_budget_path"]


def default_budget_path() -> Path:
    home = os.environ.get("KITELOGIK_HOME") or os.path.join(os.path.expanduser("~"), ".kitelogik")
    return Path(home) / "budgets.db"


class SQLiteBudgetLedger(SQLBudgetLedger):
    """Budgets in a SQLite file (default ``$KITELOGIK_HOME/budgets.db``). One connection per
    thread; safe across processes sharing the file."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        organization: str | None = None,
        session_limits: Mapping[str, float] | None = None,
        agent_limits: Mapping[str, float] | None = None,
        estimator: Estimator | None = None,
        busy_timeout: float = 60.0,
    ) -> None:
        super().__init__(
            organization=organization,
            session_limits=session_limits,
            agent_limits=agent_limits,
            estimator=estimator,
        )
        self.path = Path(path) if path is not None else default_budget_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._init_schema()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
            self._local.pid = os.getpid()
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    @contextmanager
    def _tx(self) -> Iterator[Callable[[str, Sequence[Any]], Rows]]:
        conn = self._conn()

        def q(sql: str, params: Sequence[Any]) -> Rows:
            return conn.execute(sql.replace("%s", "?"), tuple(params)).fetchall()

        conn.execute("BEGIN IMMEDIATE")
        try:
            yield q
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this ledger opened (in any thread)."""
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
