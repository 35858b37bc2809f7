"""Where issued and revoked tokens are kept: one interface, two backends.

:class:`SQLiteCredentialStore` (the default: one file, WAL) and
:class:`~kitelogik.anchor.credentials.postgres.PostgresCredentialStore` (psycopg 3, for a fleet
of brokers and verifiers on many machines) implement :class:`CredentialStore` with the same
schema and the same semantics, and run the same test suite.
"""

# The only interpolated SQL identifier is the table name, checked against [a-z_][a-z0-9_]*.
# ruff: noqa: S608

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from kitelogik.protocols import CredentialError

__all__ = [
    "CredentialStore",
    "DelegationError",
    "SQLiteCredentialStore",
    "TokenRecord",
    "default_home",
]

_IDENT = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class DelegationError(CredentialError):
    """A delegation the broker refuses; the message names the reason (and offending scopes)."""


def default_home() -> Path:
    """``$KITELOGIK_HOME``, else ``./.kitelogik``."""
    env = os.environ.get("KITELOGIK_HOME")
    return Path(env) if env else Path.cwd() / ".kitelogik"


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What the store knows about one issued token (never the token string itself)."""

    jti: str
    session_id: str
    scopes: tuple[str, ...]
    issued_at: int
    expires_at: int
    kid: str
    depth: int = 0
    parent_id: str | None = None
    chain: tuple[str, ...] = ()
    agent_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    revoked_at: float | None = None
    revoked_reason: str | None = None
    revoked_cascade: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "token_id": self.jti,
            "session_id": self.session_id,
            "agent_id": self.agent_id,
            "scopes": list(self.scopes),
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
            "depth": self.depth,
            "parent_id": self.parent_id,
            "chain": list(self.chain),
            "kid": self.kid,
            "metadata": dict(self.metadata),
            "revoked_at": self.revoked_at,
            "revoked_reason": self.revoked_reason,
            "revoked_cascade": self.revoked_cascade,
        }


@runtime_checkable
class CredentialStore(Protocol):
    """Issued and revoked tokens. Every method is safe to call from many threads."""

    #: True when calls do network I/O (async verifiers then run them in a worker thread).
    io_bound: bool

    def insert(self, record: TokenRecord, *, now: float) -> None:
        """Record an issued token. For a delegated token (``parent_id`` set) this atomically
        re-checks that the parent exists, is not revoked and has not expired at ``now``, and
        raises :class:`DelegationError` otherwise."""
        ...

    def get(self, jti: str) -> TokenRecord | None: ...

    def children(self, jti: str) -> list[str]: ...

    def revoke(self, jti: str, *, cascade: bool, reason: str, at: float) -> list[str]:
        """Revoke ``jti`` (and every descendant when ``cascade``); return the ids newly
        revoked. Raises :class:`LookupError` for an unknown id."""
        ...

    def revoked(self, not_expired_before: int) -> dict[str, bool]:
        """Every revoked token that expires at or after ``not_expired_before``, mapped to
        whether its revocation cascades to descendants."""
        ...

    def status(self, jtis: Sequence[str]) -> dict[str, tuple[bool, bool]]:
        """For each known id among ``jtis``: (revoked, cascades)."""
        ...

    def purge(self, expired_before: int) -> int:
        """Delete records of tokens that expired before ``expired_before``; return how many."""
        ...

    def close(self) -> None: ...


_COLUMNS = (
    "jti, session_id, agent_id, scopes, issued_at, expires_at, depth, parent_id, chain, "
    "kid, metadata, revoked_at, revoked_reason, revoked_cascade"
)


def schema_sql(table: str, *, postgres: bool) -> list[str]:
    if not _IDENT.fullmatch(table):
        raise ValueError(f"invalid table name {table!r}")
    real = "DOUBLE PRECISION" if postgres else "REAL"
    boolean = "BOOLEAN NOT NULL DEFAULT FALSE" if postgres else "INTEGER NOT NULL DEFAULT 0"
    return [
        f"""CREATE TABLE IF NOT EXISTS {table} (
            jti TEXT PRIMARY KEY,
            session_id TEXT NOT NULL,
            agent_id TEXT,
            scopes TEXT NOT NULL,
            issued_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            depth INTEGER NOT NULL,
            parent_id TEXT,
            chain TEXT NOT NULL,
            kid TEXT NOT NULL,
            metadata TEXT NOT NULL,
            revoked_at {real},
            revoked_reason TEXT,
            revoked_cascade {boolean})""",
        f"CREATE INDEX IF NOT EXISTS {table}_parent ON {table} (parent_id)",
        f"CREATE INDEX IF NOT EXISTS {table}_revoked ON {table} (expires_at) "
        "WHERE revoked_at IS NOT NULL",
    ]


def record_params(r: TokenRecord) -> tuple[Any, ...]:
    return (
        r.jti,
        r.session_id,
        r.agent_id,
        json.dumps(list(r.scopes)),
        r.issued_at,
        r.expires_at,
        r.depth,
        r.parent_id,
        json.dumps(list(r.chain)),
        r.kid,
        json.dumps(r.metadata, sort_keys=True),
        r.revoked_at,
        r.revoked_reason,
        r.revoked_cascade,
    )


def record_from_row(row: Sequence[Any]) -> TokenRecord:
    return TokenRecord(
        jti=row[0],
        session_id=row[1],
        agent_id=row[2],
        scopes=tuple(json.loads(row[3])),
        issued_at=int(row[4]),
        expires_at=int(row[5]),
        depth=int(row[6]),
        parent_id=row[7],
        chain=tuple(json.loads(row[8])),
        kid=row[9],
        metadata=json.loads(row[10]),
        revoked_at=row[11],
        revoked_reason=row[12],
        revoked_cascade=bool(row[13]),
    )


def parent_problem(parent: TokenRecord | None, parent_id: str, now: float) -> str | None:
    if parent is None:
        return f"parent token {parent_id!r} is unknown"
    if parent.revoked_at is not None:
        return f"parent token {parent_id!r} is revoked"
    if now >= parent.expires_at:
        return f"parent token {parent_id!r} has expired"
    return None


class SQLiteCredentialStore:
    """The embedded default: one SQLite file in WAL mode, one connection per thread.

    ``path`` defaults to ``$KITELOGIK_HOME/credentials.db`` (``./.kitelogik/credentials.db``).
    Several processes may share the file (brokers and verifiers on one machine).
    """

    io_bound = False

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, table: str = "kl_credentials"
    ) -> None:
        self.path = Path(path) if path is not None else default_home() / "credentials.db"
        self.table = table
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():  # token metadata is nobody else's business: 0600
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        for stmt in schema_sql(table, postgres=False):
            conn.execute(stmt)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise sqlite3.ProgrammingError("credential store is closed")
            conn = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def insert(self, record: TokenRecord, *, now: float) -> None:
        conn = self._conn()
        t = self.table
        conn.execute("BEGIN IMMEDIATE")
        try:
            if record.parent_id is not None:
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM {t} WHERE jti = ?", (record.parent_id,)
                ).fetchone()
                problem = parent_problem(
                    record_from_row(row) if row else None, record.parent_id, now
                )
                if problem:
                    raise DelegationError(problem)
            conn.execute(
                f"INSERT INTO {t} ({_COLUMNS}) VALUES ({','.join('?' * 14)})", record_params(record)
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def get(self, jti: str) -> TokenRecord | None:
        row = (
            self._conn()
            .execute(f"SELECT {_COLUMNS} FROM {self.table} WHERE jti = ?", (jti,))
            .fetchone()
        )
        return record_from_row(row) if row else None

    def children(self, jti: str) -> list[str]:
        rows = self._conn().execute(
            f"SELECT jti FROM {self.table} WHERE parent_id = ? ORDER BY issued_at, jti", (jti,)
        )
        return [r[0] for r in rows]

    def revoke(self, jti: str, *, cascade: bool, reason: str, at: float) -> list[str]:
        conn = self._conn()
        t = self.table
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute(f"SELECT 1 FROM {t} WHERE jti = ?", (jti,)).fetchone() is None:
                raise LookupError(f"unknown token id {jti!r}")
            if cascade:
                ids = [
                    r[0]
                    for r in conn.execute(
                        f"WITH RECURSIVE d(jti) AS (SELECT ? UNION "
                        f"SELECT c.jti FROM {t} c JOIN d ON c.parent_id = d.jti) SELECT jti FROM d",
                        (jti,),
                    )
                ]
            else:
                ids = [jti]
            newly = []
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"UPDATE {t} SET revoked_at = ?, revoked_reason = ?, revoked_cascade = ? "
                    f"WHERE jti IN ({marks}) AND revoked_at IS NULL RETURNING jti",
                    (at, reason, int(cascade), *chunk),
                ).fetchall()
                newly.extend(r[0] for r in rows)
            if cascade:  # a token revoked earlier without cascade now cascades too
                conn.execute(f"UPDATE {t} SET revoked_cascade = 1 WHERE jti = ?", (jti,))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        order = {j: i for i, j in enumerate(ids)}
        return sorted(newly, key=order.__getitem__)

    def revoked(self, not_expired_before: int) -> dict[str, bool]:
        rows = self._conn().execute(
            f"SELECT jti, revoked_cascade FROM {self.table} "
            "WHERE revoked_at IS NOT NULL AND expires_at >= ?",
            (not_expired_before,),
        )
        return {r[0]: bool(r[1]) for r in rows}

    def status(self, jtis: Sequence[str]) -> dict[str, tuple[bool, bool]]:
        out: dict[str, tuple[bool, bool]] = {}
        for chunk in _chunks(list(jtis), 500):
            rows = self._conn().execute(
                f"SELECT jti, revoked_at, revoked_cascade FROM {self.table} "
                f"WHERE jti IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            out.update({r[0]: (r[1] is not None, bool(r[2])) for r in rows})
        return out

    def purge(self, expired_before: int) -> int:
        cur = self._conn().execute(
            f"DELETE FROM {self.table} WHERE expires_at < ?", (expired_before,)
        )
        return cur.rowcount

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._all = self._all, []
        for c in conns:
            c.close()
        self._local = threading.local()


def _chunks(items: Iterable[str], n: int) -> list[list[str]]:
    seq = list(items)
    return [seq[i : i + n] for i in range(0, len(seq), n)]
