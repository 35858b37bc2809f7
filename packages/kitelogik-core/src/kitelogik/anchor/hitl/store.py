"""Durable stores for approval requests: SQLite (default, one file, WAL) and, in
:mod:`kitelogik.anchor.hitl.postgres`, PostgreSQL.

Every state change is one transaction that locks the request row (SQLite ``BEGIN IMMEDIATE``,
PostgreSQL ``SELECT ... FOR UPDATE``), so a concurrent approve and deny, two approvers racing a
quorum, or an approval racing the expiry resolve to exactly one outcome. The rules live here once,
in :class:`SQLApprovalStore`; a backend only supplies connections, placeholders and the way a
waiting agent learns that a request changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from kitelogik.anchor.hitl.models import (
    ApprovalConflict,
    ApprovalError,
    ApprovalRequest,
    Status,
    UnknownRequest,
    Vote,
    VoteKind,
)

__all__ = [
    "ApprovalStore",
    "Listener",
    "SQLApprovalStore",
    "SQLiteApprovalStore",
    "TokenRecord",
    "default_store_path",
    "open_store",
]

_COLUMNS = (
    "id, digest, decision_id, session_id, status, quorum, created_at, expires_at, "
    "decided_at, consumed_at, body"
)
_SELECT = "SELECT " + _COLUMNS + " FROM kl_hitl_requests"  # noqa: S608 - constant columns
_INSERT = "INSERT INTO kl_hitl_requests (" + _COLUMNS + ") VALUES (?,?,?,?,?,?,?,?,?,?,?)"  # noqa: S608

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS kl_hitl_requests (
        id TEXT PRIMARY KEY,
        digest TEXT NOT NULL,
        decision_id TEXT NOT NULL UNIQUE,
        session_id TEXT NOT NULL,
        status TEXT NOT NULL,
        quorum INTEGER NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        decided_at DOUBLE PRECISION,
        consumed_at DOUBLE PRECISION,
        body TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS kl_hitl_requests_status ON kl_hitl_requests (status, created_at)",
    """CREATE TABLE IF NOT EXISTS kl_hitl_votes (
        request_id TEXT NOT NULL REFERENCES kl_hitl_requests (id),
        approver TEXT NOT NULL,
        vote TEXT NOT NULL,
        reason TEXT NOT NULL,
        via TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (request_id, approver)
    )""",
    """CREATE TABLE IF NOT EXISTS kl_hitl_tokens (
        token_hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        roles TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        revoked_at DOUBLE PRECISION
    )""",
)


class TokenRecord(Protocol):
    name: str
    roles: tuple[str, ...]


class Listener(Protocol):
    """Wakes a waiting agent when its request may have changed (or the timeout passes)."""

    def wait(self, timeout: float) -> None: ...


class AsyncListener(Protocol):
    async def wait(self, timeout: float) -> None: ...


class ApprovalStore(Protocol):
    """What :class:`~kitelogik.anchor.hitl.queue.ApprovalQueue` needs from a store."""

    def create(self, request: ApprovalRequest) -> None: ...
    def get(self, request_id: str) -> ApprovalRequest | None: ...
    def list(self, status: Status | None = None, limit: int = 200) -> list[ApprovalRequest]: ...
    def vote(
        self,
        request_id: str,
        approver: str,
        vote: VoteKind,
        reason: str,
        via: str,
        now: float,
        digest: str | None = None,
    ) -> ApprovalRequest: ...
    def expire(self, request_id: str, now: float, force: bool = False) -> ApprovalRequest: ...
    def consume(self, request_id: str, digest: str, now: float) -> ApprovalRequest: ...
    def listen(self, request_id: str) -> contextlib.AbstractContextManager[Listener]: ...
    def alisten(self, request_id: str) -> contextlib.AbstractAsyncContextManager[AsyncListener]: ...
    def add_token(self, token_hash: str, name: str, roles: Sequence[str], now: float) -> None: ...
    def find_token(self, token_hash: str) -> tuple[str, tuple[str, ...]] | None: ...
    def revoke_tokens(self, name: str, now: float) -> int: ...
    def list_tokens(self) -> list[dict[str, Any]]: ...


def _row_to_request(row: Sequence[Any], votes: Sequence[Sequence[Any]]) -> ApprovalRequest:
    (
        rid,
        digest,
        decision_id,
        session_id,
        status,
        quorum,
        created_at,
        expires_at,
        decided_at,
        consumed_at,
        body,
    ) = row
    b = json.loads(body)
    return ApprovalRequest(
        id=rid,
        digest=digest,
        decision_id=decision_id,
        session_id=session_id,
        status=status,
        quorum=int(quorum),
        created_at=float(created_at),
        expires_at=float(expires_at),
        decided_at=None if decided_at is None else float(decided_at),
        consumed_at=None if consumed_at is None else float(consumed_at),
        event_type=b["event_type"],
        action=b["action"],
        args=b["args"],
        risk_tier=b.get("risk_tier", ""),
        reasons=tuple(b.get("reasons", ())),
        rules=tuple(b.get("rules", ())),
        agent_id=b.get("agent_id"),
        user_role=b.get("user_role"),
        framework=b.get("framework"),
        principals=tuple(b.get("principals", ())),
        votes=tuple(
            Vote(approver=v[0], vote=v[1], reason=v[2], via=v[3], at=float(v[4])) for v in votes
        ),
    )


class _Tx(Protocol):
    def __call__(self, sql: str, params: Sequence[Any] = (), /) -> Any: ...


class SQLApprovalStore(ABC):
    """The approval rules, written once for every SQL backend."""

    #: Appended to the row read that starts a state change (``FOR UPDATE`` on PostgreSQL).
    lock_clause = ""

    @abstractmethod
    def _tx(self) -> contextlib.AbstractContextManager[_Tx]:
        """A write transaction; yields ``execute(sql, params)`` (``?`` placeholders)."""

    @abstractmethod
    def _read(self) -> contextlib.AbstractContextManager[_Tx]:
        """A read-only connection; yields ``execute(sql, params)``."""

    @abstractmethod
    def _notify(self, ex: _Tx, request_id: str) -> None:
        """Tell waiting agents (inside the transaction that changed the request)."""

    @abstractmethod
    def listen(self, request_id: str) -> contextlib.AbstractContextManager[Listener]:
        """Subscribe before reading the state, then ``wait`` for a change."""

    @abstractmethod
    def alisten(self, request_id: str) -> contextlib.AbstractAsyncContextManager[AsyncListener]:
        """The async :meth:`listen`."""

    def _after_commit(self, request_id: str) -> None:  # noqa: B027 - optional hook
        """Called after a state change committed."""

    # ------------------------------------------------------------------ requests

    def create(self, request: ApprovalRequest) -> None:
        with self._tx() as ex:
            ex(
                _INSERT,
                (
                    request.id,
                    request.digest,
                    request.decision_id,
                    request.session_id,
                    request.status,
                    request.quorum,
                    request.created_at,
                    request.expires_at,
                    request.decided_at,
                    request.consumed_at,
                    request.body(),
                ),
            )
            self._notify(ex, request.id)
        self._after_commit(request.id)

    def _fetch(self, ex: _Tx, request_id: str, lock: bool = False) -> ApprovalRequest | None:
        cur = ex(_SELECT + " WHERE id = ?" + (self.lock_clause if lock else ""), (request_id,))
        row = cur.fetchone()
        if row is None:
            return None
        votes = ex(
            "SELECT approver, vote, reason, via, at FROM kl_hitl_votes WHERE request_id = ?"
            " ORDER BY at, approver",
            (request_id,),
        ).fetchall()
        return _row_to_request(row, votes)

    def get(self, request_id: str) -> ApprovalRequest | None:
        with self._read() as ex:
            return self._fetch(ex, request_id)

    def list(self, status: Status | None = None, limit: int = 200) -> list[ApprovalRequest]:
        with self._read() as ex:
            if status is None:
                rows = ex(_SELECT + " ORDER BY created_at DESC LIMIT ?", (limit,)).fetchall()
            else:
                rows = ex(
                    _SELECT + " WHERE status = ? ORDER BY created_at LIMIT ?", (status, limit)
                ).fetchall()
            out = []
            for row in rows:
                votes = ex(
                    "SELECT approver, vote, reason, via, at FROM kl_hitl_votes "
                    "WHERE request_id = ? ORDER BY at, approver",
                    (row[0],),
                ).fetchall()
                out.append(_row_to_request(row, votes))
            return out

    def vote(
        self,
        request_id: str,
        approver: str,
        vote: VoteKind,
        reason: str,
        via: str,
        now: float,
        digest: str | None = None,
    ) -> ApprovalRequest:
        """Record one approver's vote. A deny decides at once; approvals decide when the quorum
        of distinct approvers is reached. Refused when the request is not pending, has expired
        (it is marked expired then), ``digest`` differs from the request's, or this approver
        already voted."""
        if vote not in ("approve", "deny"):
            raise ValueError(f"vote must be 'approve' or 'deny', not {vote!r}")
        problem: ApprovalError | None = None
        with self._tx() as ex:
            req = self._fetch(ex, request_id, lock=True)
            if req is None:
                raise UnknownRequest(f"no approval request {request_id!r}")
            if req.status != "pending":
                raise ApprovalConflict(f"request {request_id} is already {req.status}")
            if now >= req.expires_at:
                ex(
                    "UPDATE kl_hitl_requests SET status = 'expired', decided_at = ? WHERE id = ?",
                    (now, request_id),
                )
                self._notify(ex, request_id)
                problem = ApprovalConflict(f"request {request_id} has expired")
            elif digest is not None and digest != req.digest:
                raise ApprovalConflict(
                    "the digest you approved is not this request's digest: the call you "
                    "reviewed is not the call that is waiting"
                )
            elif any(v.approver == approver for v in req.votes):
                raise ApprovalConflict(f"{approver} has already voted on request {request_id}")
            else:
                ex(
                    "INSERT INTO kl_hitl_votes (request_id, approver, vote, reason, via, at) "
                    "VALUES (?,?,?,?,?,?)",
                    (request_id, approver, vote, reason, via, now),
                )
                approvals = sum(1 for v in req.votes if v.vote == "approve")
                if vote == "deny":
                    new_status: Status | None = "denied"
                elif approvals + 1 >= req.quorum:
                    new_status = "approved"
                else:
                    new_status = None
                if new_status is not None:
                    ex(
                        "UPDATE kl_hitl_requests SET status = ?, decided_at = ? WHERE id = ?",
                        (new_status, now, request_id),
                    )
                self._notify(ex, request_id)
        self._after_commit(request_id)
        if problem is not None:
            raise problem
        result = self.get(request_id)
        assert result is not None
        return result

    def expire(self, request_id: str, now: float, force: bool = False) -> ApprovalRequest:
        """Mark a pending request expired if its time has passed (or ``force``: the agent
        stopped waiting). Returns the request as it now is (possibly decided meanwhile)."""
        with self._tx() as ex:
            req = self._fetch(ex, request_id, lock=True)
            if req is None:
                raise UnknownRequest(f"no approval request {request_id!r}")
            changed = req.status == "pending" and (force or now >= req.expires_at)
            if changed:
                ex(
                    "UPDATE kl_hitl_requests SET status = 'expired', decided_at = ? WHERE id = ?",
                    (now, request_id),
                )
                self._notify(ex, request_id)
        if changed:
            self._after_commit(request_id)
        result = self.get(request_id)
        assert result is not None
        return result

    def consume(self, request_id: str, digest: str, now: float) -> ApprovalRequest:
        """Use an approval, once: only an approved, unused request whose stored call still
        hashes to ``digest`` can be consumed."""
        with self._tx() as ex:
            req = self._fetch(ex, request_id, lock=True)
            if req is None:
                raise UnknownRequest(f"no approval request {request_id!r}")
            if req.status != "approved":
                raise ApprovalConflict(f"request {request_id} is {req.status}, not approved")
            if req.consumed_at is not None:
                raise ApprovalConflict(f"the approval of request {request_id} was already used")
            if digest != req.digest or req.bound_digest() != digest:
                raise ApprovalConflict("the approval is bound to a different call")
            cur = ex(
                "UPDATE kl_hitl_requests SET consumed_at = ? "
                "WHERE id = ? AND consumed_at IS NULL AND status = 'approved'",
                (now, request_id),
            )
            if cur.rowcount != 1:
                raise ApprovalConflict(f"the approval of request {request_id} was already used")
        result = self.get(request_id)
        assert result is not None
        return result

    # ------------------------------------------------------------------ approver tokens

    def add_token(self, token_hash: str, name: str, roles: Sequence[str], now: float) -> None:
        with self._tx() as ex:
            ex(
                "INSERT INTO kl_hitl_tokens (token_hash, name, roles, created_at) VALUES (?,?,?,?)",
                (token_hash, name, ",".join(sorted(set(roles))), now),
            )

    def find_token(self, token_hash: str) -> tuple[str, tuple[str, ...]] | None:
        with self._read() as ex:
            row = ex(
                "SELECT name, roles FROM kl_hitl_tokens WHERE token_hash = ? "
                "AND revoked_at IS NULL",
                (token_hash,),
            ).fetchone()
        if row is None:
            return None
        return row[0], tuple(r for r in row[1].split(",") if r)

    def revoke_tokens(self, name: str, now: float) -> int:
        with self._tx() as ex:
            cur = ex(
                "UPDATE kl_hitl_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (now, name),
            )
            return int(cur.rowcount)

    def list_tokens(self) -> list[dict[str, Any]]:
        with self._read() as ex:
            rows = ex(
                "SELECT name, roles, created_at, revoked_at FROM kl_hitl_tokens ORDER BY created_at"
            ).fetchall()
        return [
            {"name": r[0], "roles": r[1].split(","), "created_at": r[2], "revoked_at": r[3]}
            for r in rows
        ]


# ---------------------------------------------------------------------------------- SQLite

_CONDITIONS: dict[str, threading.Condition] = {}
_CONDITIONS_LOCK = threading.Lock()


def _condition_for(path: str) -> threading.Condition:
    with _CONDITIONS_LOCK:
        cond = _CONDITIONS.get(path)
        if cond is None:
            cond = _CONDITIONS[path] = threading.Condition()
        return cond


class _SQLiteListener:
    """In the same process a commit wakes the waiter at once; another process's commit (the
    CLI, the approvals server) is seen at the next poll."""

    def __init__(self, cond: threading.Condition, poll: float) -> None:
        self.cond = cond
        self.poll = poll

    def wait(self, timeout: float) -> None:
        with self.cond:
            self.cond.wait(max(0.0, min(timeout, self.poll)))


class _SQLiteAsyncListener:
    def __init__(self, poll: float) -> None:
        self.poll = poll

    async def wait(self, timeout: float) -> None:
        await asyncio.sleep(max(0.0, min(timeout, self.poll)))


class SQLiteApprovalStore(SQLApprovalStore):
    """Approval requests in one SQLite file (WAL). Safe across threads and processes."""

    def __init__(self, path: str | os.PathLike[str], *, poll_interval: float = 0.1) -> None:
        self.path = str(Path(path).expanduser())
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.poll_interval = poll_interval
        self._cond = _condition_for(os.path.abspath(self.path))
        with contextlib.closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            for stmt in SCHEMA:
                conn.execute(stmt)
        # Held open (never used) so that closing each operation's connection does not
        # checkpoint and fsync the WAL every time; SQLite checkpoints it as it grows.
        self._keeper: sqlite3.Connection | None = sqlite3.connect(
            self.path, check_same_thread=False
        )
        self._keeper.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the WAL

    def close(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def __repr__(self) -> str:
        return f"SQLiteApprovalStore({self.path!r})"

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=10000")
        # WAL + NORMAL: a commit survives a crash of any process; a power loss may drop the
        # last commits, which only ever fails closed (a lost request or approval is a deny; a
        # lost "used" mark cannot be replayed: it is bound to a decision that died with its
        # process).
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @contextlib.contextmanager
    def _tx(self) -> Iterator[_Tx]:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn.execute
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[_Tx]:
        conn = self._connect()
        try:
            yield conn.execute
        finally:
            conn.close()

    def _notify(self, ex: _Tx, request_id: str) -> None:
        return None

    def _after_commit(self, request_id: str) -> None:
        with self._cond:
            self._cond.notify_all()

    @contextlib.contextmanager
    def listen(self, request_id: str) -> Iterator[Listener]:
        yield _SQLiteListener(self._cond, self.poll_interval)

    @contextlib.asynccontextmanager
    async def alisten(self, request_id: str) -> AsyncIterator[AsyncListener]:
        yield _SQLiteAsyncListener(self.poll_interval)


def default_store_path() -> Path:
    """``$KITELOGIK_HOME/approvals.db``, else ``./.kitelogik/approvals.db`` (beside the audit log
    and the credential store)."""
    home = os.environ.get("KITELOGIK_HOME")
    return (Path(home) if home else Path.cwd() / ".kitelogik") / "approvals.db"


def open_store(url: str | os.PathLike[str] | None = None) -> SQLApprovalStore:
    """``postgresql://...`` opens the PostgreSQL store; anything else is a SQLite path; None is
    ``$KITELOGIK_APPROVALS`` or ``$KITELOGIK_HOME/approvals.db``."""
    if url is None:
        url = os.environ.get("KITELOGIK_APPROVALS") or default_store_path()
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        from kitelogik.anchor.hitl.postgres import PostgresApprovalStore

        return PostgresApprovalStore(text)
    return SQLiteApprovalStore(text)
