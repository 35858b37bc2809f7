"""Tamper-evident audit trail of every governance decision.

``PolicyGate()`` writes to the default log (``.kitelogik/audit.db`` under the working directory,
or under ``$KITELOGIK_HOME``) unless given ``audit=AuditLog(...)`` or, explicitly, ``audit=None``.
See ``docs/audit.md``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kitelogik.audit._canon import REDACTED, Redactor
from kitelogik.audit.log import AuditLog, AuditUnavailable
from kitelogik.audit.records import GENESIS, Prepared, Row, chain_hash
from kitelogik.audit.signing import Checkpoint, Signer, load_public_key
from kitelogik.audit.store import AuditStore, SQLiteAuditStore
from kitelogik.audit.verify import VerifyReport, export, load_anchors, verify

if TYPE_CHECKING:
    from kitelogik.audit.postgres import PostgresAuditStore

__all__ = [
    "GENESIS",
    "REDACTED",
    "AuditLog",
    "AuditStore",
    "AuditUnavailable",
    "Checkpoint",
    "PostgresAuditStore",
    "Prepared",
    "Redactor",
    "Row",
    "SQLiteAuditStore",
    "Signer",
    "VerifyReport",
    "chain_hash",
    "default_audit_sink",
    "default_paths",
    "export",
    "load_anchors",
    "load_public_key",
    "open_store",
    "verify",
]


def __getattr__(name: str) -> Any:
    if name == "PostgresAuditStore":
        from kitelogik.audit.postgres import PostgresAuditStore

        return PostgresAuditStore
    raise AttributeError(name)


def default_paths() -> tuple[Path, Path]:
    """(log file, signing key) of the default store: under ``$KITELOGIK_HOME`` when set, else
    ``./.kitelogik``."""
    home = os.environ.get("KITELOGIK_HOME")
    base = Path(home) if home else Path.cwd() / ".kitelogik"
    return base / "audit.db", base / "audit-signing.key"


_defaults: dict[tuple[str, str], AuditLog] = {}
_defaults_lock = threading.Lock()


def default_audit_sink() -> AuditLog:
    """The process-wide default log for the current default location (one writer thread per
    file, shared by every gate). Mode from ``$KITELOGIK_AUDIT_MODE`` (``batched`` by default, or
    ``strict``)."""
    db, key = default_paths()
    mode = os.environ.get("KITELOGIK_AUDIT_MODE", "batched")
    if mode not in ("batched", "strict"):
        raise ValueError(f"KITELOGIK_AUDIT_MODE must be 'batched' or 'strict', not {mode!r}")
    cache_key = (str(db.resolve()), mode)
    with _defaults_lock:
        sink = _defaults.get(cache_key)
        if sink is None or sink._closed:
            sink = AuditLog(db, mode=mode, key_path=key)  # type: ignore[arg-type]
            _defaults[cache_key] = sink
        return sink


def open_store(
    db: str | os.PathLike[str] | None = None, dsn: str | None = None, *, create: bool = False
) -> AuditStore:
    """A store to read: ``dsn`` (PostgreSQL), else the SQLite file ``db``, else the default."""
    if dsn:
        from kitelogik.audit.postgres import PostgresAuditStore

        return PostgresAuditStore(dsn, create=create)
    path = Path(db) if db else default_paths()[0]
    if not create and not path.exists():
        raise FileNotFoundError(f"no audit log at {path}")
    return SQLiteAuditStore(path, readonly=not create)
