"""Append-only stores for the audit chain: the protocol and the SQLite store (the default).

A store appends a batch of :class:`~kitelogik.audit.records.Prepared` records in ONE transaction
(one commit, so one fsync in ``strict`` durability): it takes the store-wide write lock, reads the
chain head, links the batch onto it, inserts, signs a checkpoint when one is due, and commits.
Because the head is read under the lock, any number of processes appending to the same store keep
one valid chain.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from kitelogik.audit.records import GENESIS, Prepared, Row, chain_hash, format_ts
from kitelogik.audit.signing import Checkpoint, Signer, checkpoint_payload

__all__ = ["AuditStore", "SQLiteAuditStore", "checkpoint_due"]

APPEND_ONLY = "kitelogik audit log is append-only"


@runtime_checkable
class AuditStore(Protocol):
    durable: bool

    def append(
        self, batch: Sequence[Prepared], signer: Signer | None, every: int, seconds: float
    ) -> int:
        """Chain and insert ``batch`` in one transaction; return the last sequence number."""
        ...

    def checkpoint(self, signer: Signer) -> Checkpoint | None:
        """Sign the current head if records were added since the last checkpoint."""
        ...

    def rows(
        self, start: int = 1, since: str | None = None, until: str | None = None
    ) -> Iterator[Row]: ...

    def checkpoints(self) -> list[Checkpoint]: ...

    def existing_uids(self, uids: Sequence[str]) -> set[str]:
        """Which of these crash-recovery ids are already stored."""
        ...

    def head(self) -> tuple[int, str]: ...

    def log_id(self) -> str: ...

    def close(self) -> None: ...

    def reopen(self) -> None:
        """Forget connections inherited across ``fork`` (the child opens its own)."""
        ...


def checkpoint_due(
    head_seq: int, last_cp: tuple[int, str] | None, every: int, seconds: float, now_ns: int
) -> bool:
    last_seq, last_ts = last_cp if last_cp else (0, "")
    if head_seq <= last_seq:
        return False
    if head_seq - last_seq >= every:
        return True
    # The first checkpoint comes by count, or from the writer's idle timer (every=1).
    return bool(last_ts) and last_ts <= format_ts(now_ns - int(seconds * 1e9))


def make_checkpoint(log_id: str, seq: int, head: str, signer: Signer) -> Checkpoint:
    ts = format_ts(time.time_ns())
    payload = checkpoint_payload(log_id, seq, head, ts, signer.key_id)
    return Checkpoint(
        seq, ts, head, signer.key_id, signer.public_raw.hex(), signer.sign(payload), payload
    )


def link(batch: Sequence[Prepared], seq: int, prev: str) -> list[tuple]:
    rows = []
    for p in batch:
        seq += 1
        h = chain_hash(p.content_hash, prev, seq)
        rows.append(
            (
                seq,
                p.ts,
                p.kind,
                p.decision_id,
                p.verdict,
                p.action,
                p.session_id,
                p.body,
                prev,
                h,
                p.uid,
            )
        )
        prev = h
    return rows


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_records (
    seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, kind TEXT NOT NULL, decision_id TEXT,
    verdict TEXT, action TEXT, session_id TEXT, body TEXT NOT NULL, prev TEXT NOT NULL,
    hash TEXT NOT NULL, uid TEXT);
CREATE INDEX IF NOT EXISTS audit_records_ts ON audit_records(ts);
CREATE INDEX IF NOT EXISTS audit_records_decision ON audit_records(decision_id);
CREATE INDEX IF NOT EXISTS audit_records_uid ON audit_records(uid);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, hash TEXT NOT NULL, key_id TEXT NOT NULL,
    public_key TEXT NOT NULL, signature TEXT NOT NULL, payload TEXT NOT NULL);
""" + "".join(
    f"""
CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t}
BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END;"""
    for t in ("audit_meta", "audit_records", "audit_checkpoints")
    for op in ("UPDATE", "DELETE")
)


class SQLiteAuditStore:
    """One SQLite file in WAL mode. Triggers reject every UPDATE and DELETE. ``durable=True``
    (``synchronous=FULL``) fsyncs every commit; ``False`` (``synchronous=NORMAL``) survives a
    process crash but may lose the last commits on power failure."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durable: bool = True,
        busy_timeout: float = 60.0,
        readonly: bool = False,
    ) -> None:
        self.path = Path(path)
        self.durable = durable
        self.busy_timeout = busy_timeout
        self.readonly = readonly
        self._conn: sqlite3.Connection | None = None
        self._log_id: str | None = None
        self._pid = os.getpid()
        if readonly:
            if not self.path.exists():
                raise FileNotFoundError(f"no audit log at {self.path}")
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection()  # create the schema now: a bad path fails at construction

    def __repr__(self) -> str:
        return f"SQLiteAuditStore({str(self.path)!r})"

    def _open(self, readonly: bool = False) -> sqlite3.Connection:
        if readonly:
            conn = sqlite3.connect(
                f"file:{self.path}?mode=ro",
                uri=True,
                timeout=self.busy_timeout,
                check_same_thread=False,
                isolation_level=None,
            )
            return conn
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, check_same_thread=False, isolation_level=None
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {'FULL' if self.durable else 'NORMAL'}")
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self.readonly:
            raise PermissionError("this audit store was opened read-only")
        if self._conn is None or self._pid != os.getpid():
            conn = self._open()
            script = "BEGIN IMMEDIATE;" + _SQLITE_SCHEMA + "COMMIT;"
            try:
                conn.executescript(script)
                # Each is atomic on its own; the first process to get here names the log.
                conn.execute(
                    "INSERT OR IGNORE INTO audit_meta VALUES ('log_id', ?)", (str(uuid.uuid4()),)
                )
                conn.execute(
                    "INSERT OR IGNORE INTO audit_meta VALUES ('created', ?)",
                    (format_ts(time.time_ns()),),
                )
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                conn.close()
                raise
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def reopen(self) -> None:
        self._conn = None  # never close a connection inherited from the parent process

    def log_id(self) -> str:
        if self._log_id is None:
            conn = self._open(readonly=True)
            try:
                row = conn.execute("SELECT value FROM audit_meta WHERE key='log_id'").fetchone()
            finally:
                conn.close()
            if row is None:
                raise RuntimeError("audit store has no log id (not a Kite Logik audit log?)")
            self._log_id = str(row[0])
        return self._log_id

    def append(
        self, batch: Sequence[Prepared], signer: Signer | None, every: int, seconds: float
    ) -> int:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            head = conn.execute(
                "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            seq, prev = head if head else (0, GENESIS)
            rows = link(batch, seq, prev)
            if rows:
                conn.executemany("INSERT INTO audit_records VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
                seq, prev = rows[-1][0], rows[-1][9]
            if signer is not None:
                self._maybe_checkpoint(conn, seq, prev, signer, every, seconds)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return seq

    def _maybe_checkpoint(
        self,
        conn: sqlite3.Connection,
        seq: int,
        head: str,
        signer: Signer,
        every: int,
        seconds: float,
    ) -> Checkpoint | None:
        last = conn.execute(
            "SELECT seq, ts FROM audit_checkpoints ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if not checkpoint_due(seq, last, every, seconds, time.time_ns()):
            return None
        cp = make_checkpoint(self.log_id(), seq, head, signer)
        conn.execute(
            "INSERT INTO audit_checkpoints VALUES (?,?,?,?,?,?,?)",
            (cp.seq, cp.ts, cp.hash, cp.key_id, cp.public_key, cp.signature, cp.payload),
        )
        return cp

    def checkpoint(self, signer: Signer) -> Checkpoint | None:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            head = conn.execute(
                "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            cp = None
            if head:
                cp = self._maybe_checkpoint(conn, head[0], head[1], signer, 1, 0.0)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return cp

    def rows(
        self, start: int = 1, since: str | None = None, until: str | None = None
    ) -> Iterator[Row]:
        conn = self._open(readonly=True)
        try:
            sql = "SELECT * FROM audit_records WHERE seq >= ?"
            params: list[object] = [start]
            if since:
                sql += " AND ts >= ?"
                params.append(since)
            if until:
                sql += " AND ts < ?"
                params.append(until)
            cur = conn.execute(sql + " ORDER BY seq", params)
            while True:
                chunk = cur.fetchmany(2000)
                if not chunk:
                    break
                for r in chunk:
                    yield Row(*r)
        finally:
            conn.close()

    def existing_uids(self, uids: Sequence[str]) -> set[str]:
        conn = self._open(readonly=True)
        found: set[str] = set()
        try:
            for i in range(0, len(uids), 500):
                chunk = list(uids[i : i + 500])
                marks = ",".join("?" * len(chunk))
                found.update(
                    r[0]
                    for r in conn.execute(
                        f"SELECT uid FROM audit_records WHERE uid IN ({marks})",  # noqa: S608
                        chunk,
                    )
                )
        finally:
            conn.close()
        return found

    def missing_protections(self) -> list[str]:
        """Append-only triggers that are not in place."""
        conn = self._open(readonly=True)
        try:
            have = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
            }
        finally:
            conn.close()
        want = [
            f"{t}_no_{op}"
            for t in ("audit_meta", "audit_records", "audit_checkpoints")
            for op in ("update", "delete")
        ]
        return [w for w in want if w not in have]

    def checkpoints(self) -> list[Checkpoint]:
        conn = self._open(readonly=True)
        try:
            return [
                Checkpoint(*r) for r in conn.execute("SELECT * FROM audit_checkpoints ORDER BY seq")
            ]
        finally:
            conn.close()

    def head(self) -> tuple[int, str]:
        conn = self._open(readonly=True)
        try:
            r = conn.execute(
                "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        finally:
            conn.close()
        return (int(r[0]), str(r[1])) if r else (0, GENESIS)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._pid == os.getpid():
            conn.close()
