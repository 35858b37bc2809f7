"""PostgreSQL credential store (psycopg 3): the scale-out backend for brokers and verifiers on
many machines. Same schema and semantics as the SQLite store. Install with the ``postgres``
extra (``pip install 'kitelogik-core[postgres,credentials]'``)."""

# The only interpolated SQL identifier is the table name, checked against [a-z_][a-z0-9_]*.
# ruff: noqa: S608

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from kitelogik.anchor.credentials.store import (
    _COLUMNS,
    DelegationError,
    TokenRecord,
    _chunks,
    parent_problem,
    record_from_row,
    record_params,
    schema_sql,
)

__all__ = ["PostgresCredentialStore"]


class PostgresCredentialStore:
    """Issued and revoked tokens in PostgreSQL. ``dsn`` is a libpq connection string or URL.
    One connection per thread (autocommit, explicit transactions); a broken connection is
    replaced on the next call."""

    io_bound = True

    def __init__(self, dsn: str, *, table: str = "kl_credentials") -> None:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError(
                "PostgresCredentialStore needs psycopg 3: pip install 'kitelogik-core[postgres]'"
            ) from exc
        self._psycopg = psycopg
        self.dsn = dsn
        self.table = table
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False
        stmts = schema_sql(table, postgres=True)
        conn = self._conn()
        with conn.transaction():
            # Concurrent CREATE TABLE IF NOT EXISTS can collide in the catalog: serialize.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"kitelogik:{table}",))
            for stmt in stmts:
                conn.execute(stmt)  # type: ignore[arg-type]

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None and conn.closed:
            conn = None
        if conn is None:
            if self._closed:
                raise RuntimeError("credential store is closed")
            conn = self._psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def insert(self, record: TokenRecord, *, now: float) -> None:
        conn = self._conn()
        t = self.table
        with conn.transaction():
            if record.parent_id is not None:
                # Lock the parent row: a concurrent revoke of the parent waits for us (and a
                # revoke that already committed is seen here).
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM {t} WHERE jti = %s FOR UPDATE", (record.parent_id,)
                ).fetchone()
                problem = parent_problem(
                    record_from_row(row) if row else None, record.parent_id, now
                )
                if problem:
                    raise DelegationError(problem)
            conn.execute(
                f"INSERT INTO {t} ({_COLUMNS}) VALUES ({','.join(['%s'] * 14)})",
                record_params(record),
            )

    def get(self, jti: str) -> TokenRecord | None:
        row = (
            self._conn()
            .execute(f"SELECT {_COLUMNS} FROM {self.table} WHERE jti = %s", (jti,))
            .fetchone()
        )
        return record_from_row(row) if row else None

    def children(self, jti: str) -> list[str]:
        rows = (
            self._conn()
            .execute(
                f"SELECT jti FROM {self.table} WHERE parent_id = %s ORDER BY issued_at, jti", (jti,)
            )
            .fetchall()
        )
        return [r[0] for r in rows]

    def revoke(self, jti: str, *, cascade: bool, reason: str, at: float) -> list[str]:
        conn = self._conn()
        t = self.table
        with conn.transaction():
            if (
                conn.execute(f"SELECT 1 FROM {t} WHERE jti = %s FOR UPDATE", (jti,)).fetchone()
                is None
            ):
                raise LookupError(f"unknown token id {jti!r}")
            if cascade:
                ids = [
                    r[0]
                    for r in conn.execute(
                        f"WITH RECURSIVE d(jti) AS (SELECT %s::text UNION "
                        f"SELECT c.jti FROM {t} c JOIN d ON c.parent_id = d.jti) SELECT jti FROM d",
                        (jti,),
                    ).fetchall()
                ]
            else:
                ids = [jti]
            rows = conn.execute(
                f"UPDATE {t} SET revoked_at = %s, revoked_reason = %s, revoked_cascade = %s "
                f"WHERE jti = ANY(%s) AND revoked_at IS NULL RETURNING jti",
                (at, reason, cascade, ids),
            ).fetchall()
            newly = [r[0] for r in rows]
            if cascade:
                conn.execute(f"UPDATE {t} SET revoked_cascade = TRUE WHERE jti = %s", (jti,))
        order = {j: i for i, j in enumerate(ids)}
        return sorted(newly, key=order.__getitem__)

    def revoked(self, not_expired_before: int) -> dict[str, bool]:
        rows = (
            self._conn()
            .execute(
                f"SELECT jti, revoked_cascade FROM {self.table} "
                "WHERE revoked_at IS NOT NULL AND expires_at >= %s",
                (not_expired_before,),
            )
            .fetchall()
        )
        return {r[0]: bool(r[1]) for r in rows}

    def status(self, jtis: Sequence[str]) -> dict[str, tuple[bool, bool]]:
        out: dict[str, tuple[bool, bool]] = {}
        for chunk in _chunks(jtis, 1000):
            rows = (
                self._conn()
                .execute(
                    f"SELECT jti, revoked_at, revoked_cascade FROM {self.table} "
                    "WHERE jti = ANY(%s)",
                    (chunk,),
                )
                .fetchall()
            )
            out.update({r[0]: (r[1] is not None, bool(r[2])) for r in rows})
        return out

    def purge(self, expired_before: int) -> int:
        cur = self._conn().execute(
            f"DELETE FROM {self.table} WHERE expires_at < %s", (expired_before,)
        )
        return cur.rowcount

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._all = self._all, []
        for c in conns:
            c.close()
        self._local = threading.local()
