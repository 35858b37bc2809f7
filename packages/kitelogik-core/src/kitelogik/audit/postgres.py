"""The PostgreSQL audit store (psycopg 3, extra ``postgres``): the same chain for a fleet.

Protection in depth: triggers reject UPDATE, DELETE and TRUNCATE on every audit table (even for
the owner), and :meth:`PostgresAuditStore.install` creates a writer role that has only SELECT and
INSERT: agents connect as that role, so removing the triggers is not in their power either.
Appends from any number of processes and machines take a transaction-scoped advisory lock, read
the head and link onto it, so the chain stays one.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from kitelogik.audit.records import GENESIS, Prepared, Row
from kitelogik.audit.signing import Checkpoint, Signer
from kitelogik.audit.store import APPEND_ONLY, checkpoint_due, link, make_checkpoint

__all__ = ["PostgresAuditStore"]

_LOCK_KEY = 0x6B6C_6175_6469_74  # "klaudit": the advisory lock that serializes appends

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_records (
    seq BIGINT PRIMARY KEY, ts TEXT NOT NULL, kind TEXT NOT NULL, decision_id TEXT,
    verdict TEXT, action TEXT, session_id TEXT, body TEXT NOT NULL, prev TEXT NOT NULL,
    hash TEXT NOT NULL, uid TEXT);
CREATE INDEX IF NOT EXISTS audit_records_ts ON audit_records(ts);
CREATE INDEX IF NOT EXISTS audit_records_decision ON audit_records(decision_id);
CREATE INDEX IF NOT EXISTS audit_records_uid ON audit_records(uid);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    seq BIGINT PRIMARY KEY, ts TEXT NOT NULL, hash TEXT NOT NULL, key_id TEXT NOT NULL,
    public_key TEXT NOT NULL, signature TEXT NOT NULL, payload TEXT NOT NULL);
CREATE OR REPLACE FUNCTION kitelogik_audit_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END; $$ LANGUAGE plpgsql;
""" + "".join(
    f"""
DROP TRIGGER IF EXISTS {t}_append_only ON {t};
CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t}
    FOR EACH ROW EXECUTE FUNCTION kitelogik_audit_append_only();
DROP TRIGGER IF EXISTS {t}_no_truncate ON {t};
CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t}
    FOR EACH STATEMENT EXECUTE FUNCTION kitelogik_audit_append_only();
"""
    for t in ("audit_meta", "audit_records", "audit_checkpoints")
)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "the PostgreSQL audit store needs psycopg: pip install 'kitelogik-core[postgres]'"
        ) from exc
    return psycopg


class PostgresAuditStore:
    """Audit chain in PostgreSQL. ``create=True`` installs the schema if it is missing (needs
    the privileges to create tables; in production run :meth:`install` once as the owner and
    connect agents as the writer role). ``durable=False`` sets ``synchronous_commit=off`` for
    the writer's session (``batched`` mode)."""

    def __init__(self, dsn: str, *, durable: bool = True, create: bool = True) -> None:
        self.dsn = dsn
        self.durable = durable
        self._create = create
        self._conn: Any = None
        self._log_id: str | None = None
        self._pid = _getpid()
        if create:
            self._ensure_schema()

    def __repr__(self) -> str:
        return "PostgresAuditStore(<dsn>)"

    @classmethod
    def install(
        cls,
        dsn: str,
        writer_role: str | None = "kitelogik_audit_writer",
        writer_password: str | None = None,
    ) -> PostgresAuditStore:
        """Create the schema and (optionally) a login role that may only SELECT and INSERT."""
        store = cls(dsn, create=True)
        if writer_role:
            psycopg = _psycopg()
            from psycopg import sql

            with psycopg.connect(dsn, autocommit=True) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s", (writer_role,)
                ).fetchone()
                role = sql.Identifier(writer_role)
                if not exists:
                    if writer_password:
                        conn.execute(
                            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                                role, sql.Literal(writer_password)
                            )
                        )
                    else:
                        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
                for t in ("audit_meta", "audit_records", "audit_checkpoints"):
                    table = sql.Identifier(t)
                    conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(table, role))
                    conn.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(table, role))
        return store

    def _ensure_schema(self) -> None:
        psycopg = _psycopg()
        with psycopg.connect(self.dsn) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            have = conn.execute("SELECT to_regclass('audit_records')").fetchone()[0]
            if have is None:
                conn.execute(_SCHEMA)
            conn.execute(
                "INSERT INTO audit_meta VALUES ('log_id', %s) ON CONFLICT DO NOTHING",
                (str(uuid.uuid4()),),
            )

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed or self._pid != _getpid():
            psycopg = _psycopg()
            conn = psycopg.connect(self.dsn)
            if not self.durable:
                conn.execute("SET synchronous_commit = off")
                conn.commit()
            self._conn, self._pid = conn, _getpid()
        return self._conn

    def reopen(self) -> None:
        self._conn = None

    def log_id(self) -> str:
        if self._log_id is None:
            with _psycopg().connect(self.dsn) as conn:
                row = conn.execute("SELECT value FROM audit_meta WHERE key='log_id'").fetchone()
            if row is None:
                raise RuntimeError("audit store has no log id (not a Kite Logik audit log?)")
            self._log_id = str(row[0])
        return self._log_id

    def append(
        self, batch: Sequence[Prepared], signer: Signer | None, every: int, seconds: float
    ) -> int:
        conn = self._connection()
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                head = conn.execute(
                    "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"
                ).fetchone()
                seq, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS)
                rows = link(batch, seq, prev)
                if rows:
                    with conn.cursor() as cur:
                        cur.executemany(
                            "INSERT INTO audit_records VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                            rows,
                        )
                    seq, prev = rows[-1][0], rows[-1][9]
                if signer is not None:
                    self._maybe_checkpoint(conn, seq, prev, signer, every, seconds)
        except BaseException:
            self._drop_broken()
            raise
        return seq

    def _drop_broken(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already failing; reconnect next time
                conn.close()

    def _maybe_checkpoint(
        self, conn: Any, seq: int, head: str, signer: Signer, every: int, seconds: float
    ) -> Checkpoint | None:
        last = conn.execute(
            "SELECT seq, ts FROM audit_checkpoints ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        last_t = (int(last[0]), str(last[1])) if last else None
        if not checkpoint_due(seq, last_t, every, seconds, time.time_ns()):
            return None
        cp = make_checkpoint(self.log_id(), seq, head, signer)
        conn.execute(
            "INSERT INTO audit_checkpoints VALUES (%s,%s,%s,%s,%s,%s,%s)",
            (cp.seq, cp.ts, cp.hash, cp.key_id, cp.public_key, cp.signature, cp.payload),
        )
        return cp

    def checkpoint(self, signer: Signer) -> Checkpoint | None:
        conn = self._connection()
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                head = conn.execute(
                    "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"
                ).fetchone()
                if not head:
                    return None
                return self._maybe_checkpoint(conn, int(head[0]), str(head[1]), signer, 1, 0.0)
        except BaseException:
            self._drop_broken()
            raise

    def rows(
        self, start: int = 1, since: str | None = None, until: str | None = None
    ) -> Iterator[Row]:
        psycopg = _psycopg()
        sql = "SELECT * FROM audit_records WHERE seq >= %s"
        params: list[object] = [start]
        if since:
            sql += " AND ts >= %s"
            params.append(since)
        if until:
            sql += " AND ts < %s"
            params.append(until)
        with psycopg.connect(self.dsn) as conn, conn.cursor(name="kl_audit_rows") as cur:
            cur.itersize = 2000
            cur.execute(sql + " ORDER BY seq", params)
            for r in cur:
                yield Row(int(r[0]), *r[1:])

    def existing_uids(self, uids: Sequence[str]) -> set[str]:
        with _psycopg().connect(self.dsn) as conn:
            rows = conn.execute(
                "SELECT uid FROM audit_records WHERE uid = ANY(%s)", (list(uids),)
            ).fetchall()
        return {r[0] for r in rows}

    def missing_protections(self) -> list[str]:
        """Append-only triggers that are not in place (or disabled)."""
        want = [
            f"{t}_{k}"
            for t in ("audit_meta", "audit_records", "audit_checkpoints")
            for k in ("append_only", "no_truncate")
        ]
        with _psycopg().connect(self.dsn) as conn:
            rows = conn.execute(
                "SELECT tgname FROM pg_trigger WHERE tgname = ANY(%s) AND tgenabled <> 'D'",
                (want,),
            ).fetchall()
        have = {r[0] for r in rows}
        return [w for w in want if w not in have]

    def checkpoints(self) -> list[Checkpoint]:
        with _psycopg().connect(self.dsn) as conn:
            rows = conn.execute("SELECT * FROM audit_checkpoints ORDER BY seq").fetchall()
        return [Checkpoint(int(r[0]), *r[1:]) for r in rows]

    def head(self) -> tuple[int, str]:
        with _psycopg().connect(self.dsn) as conn:
            r = conn.execute(
                "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return (int(r[0]), str(r[1])) if r else (0, GENESIS)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._pid == _getpid():
            conn.close()


def _getpid() -> int:
    import os

    return os.getpid()
