"""PostgreSQL approval store (psycopg 3, extra ``postgres``).

Same rules and schema as SQLite (:class:`~kitelogik.anchor.hitl.store.SQLApprovalStore`). Every
state change sends ``NOTIFY kl_hitl, '<request id>'`` inside its transaction, so an agent waiting
on another machine (``LISTEN kl_hitl``) learns of the decision the moment it commits.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from kitelogik.anchor.hitl.store import SCHEMA, AsyncListener, Listener, SQLApprovalStore, _Tx

__all__ = ["CHANNEL", "PostgresApprovalStore"]

CHANNEL = "kl_hitl"


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "the PostgreSQL approval store needs psycopg: pip install 'kitelogik-core[postgres]'"
        ) from exc
    return psycopg


class _PgListener:
    def __init__(self, conn: Any, request_id: str) -> None:
        self.conn = conn
        self.request_id = request_id

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            for note in self.conn.notifies(timeout=left, stop_after=1):
                if note.payload == self.request_id:
                    return


class _PgAsyncListener:
    def __init__(self, conn: Any, request_id: str) -> None:
        self.conn = conn
        self.request_id = request_id

    async def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            async for note in self.conn.notifies(timeout=left, stop_after=1):
                if note.payload == self.request_id:
                    return


class PostgresApprovalStore(SQLApprovalStore):
    """Approval requests in PostgreSQL, shared by a fleet of agents and approval servers."""

    lock_clause = " FOR UPDATE"

    def __init__(self, dsn: str, *, connect_timeout: float = 5.0) -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        with self._tx() as ex:
            ex("SELECT pg_advisory_xact_lock(727274)")  # serialize concurrent schema creation
            for stmt in SCHEMA:
                ex(stmt)

    def __repr__(self) -> str:
        return "PostgresApprovalStore(<dsn>)"

    def _connect(self, autocommit: bool = False) -> Any:
        return _psycopg().connect(
            self.dsn, autocommit=autocommit, connect_timeout=max(1, int(self.connect_timeout))
        )

    @staticmethod
    def _executor(conn: Any) -> _Tx:
        def ex(sql: str, params: Any = ()) -> Any:
            return conn.execute(sql.replace("?", "%s"), tuple(params))

        return ex

    @contextlib.contextmanager
    def _tx(self) -> Iterator[_Tx]:
        with self._connect() as conn, conn.transaction():
            yield self._executor(conn)

    @contextlib.contextmanager
    def _read(self) -> Iterator[_Tx]:
        with self._connect(autocommit=True) as conn:
            yield self._executor(conn)

    def _notify(self, ex: _Tx, request_id: str) -> None:
        ex("SELECT pg_notify(?, ?)", (CHANNEL, request_id))

    @contextlib.contextmanager
    def listen(self, request_id: str) -> Iterator[Listener]:
        with self._connect(autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            yield _PgListener(conn, request_id)

    @contextlib.asynccontextmanager
    async def alisten(self, request_id: str) -> AsyncIterator[AsyncListener]:
        psycopg = _psycopg()
        conn = await psycopg.AsyncConnection.connect(
            self.dsn, autocommit=True, connect_timeout=max(1, int(self.connect_timeout))
        )
        async with conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            yield _PgAsyncListener(conn, request_id)
