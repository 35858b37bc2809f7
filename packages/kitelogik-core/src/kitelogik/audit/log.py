"""The audit sink the gate writes to: a queue in front of a store, drained by one writer thread.

The caller's side (the gate's hot path) only takes a ticket and appends to a queue. The writer
thread takes everything queued (group commit), redacts, canonicalizes and hashes it, then hands
the batch to the store, which links it onto the chain and commits it in one transaction. Chain
order is queue order, which is call order.

Modes:

``strict``
    ``record_decision`` returns only once the record is committed and fsynced (the store runs
    with ``synchronous=FULL``). Concurrent callers share one commit. A failure reaches the
    caller, so the gate denies with ``audit unavailable``.
``batched`` (default)
    ``record_decision`` returns once the record is queued; the writer commits it with the next
    batch (the delay is bounded by one commit's time, under a millisecond on a local disk).
    Commits survive a process crash once made but are not fsynced one by one (SQLite
    ``synchronous=NORMAL``, PostgreSQL ``synchronous_commit=off``), so a power failure can lose
    the last moments. Records still in the queue (see :attr:`AuditLog.lag_seconds`, usually well
    under a millisecond) are lost if the process itself is killed. When the store fails, every
    later call raises until a write succeeds again (queued records are kept and retried), so the
    gate denies new decisions.

``on_failure="degraded"`` instead lets decisions through without a durable record, logging an
error for every failure: use it only where availability outranks the audit trail, knowingly.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import logging
import os
import secrets
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kitelogik.audit._canon import Redactor, prepare
from kitelogik.audit.journal import DEFAULT_DIR, Journal, orphans
from kitelogik.audit.journal import dump as dump_entry
from kitelogik.audit.records import (
    RESERVED_KINDS,
    Prepared,
    data_from_tuple,
    decision_tuple,
    outcome_data,
    prepare_record,
)
from kitelogik.audit.signing import Signer
from kitelogik.audit.store import AuditStore, SQLiteAuditStore

if TYPE_CHECKING:
    from kitelogik.decision import Decision

__all__ = ["AuditLog", "AuditUnavailable"]

log = logging.getLogger("kitelogik.audit")

Mode = Literal["strict", "batched"]

# Item slots (a list, so the writer can cache the prepared record across retries).
_TICKET, _KIND, _TS, _PAYLOAD, _WAIT, _PREP, _ERR, _UID = range(8)
_STRICT_SYNC = 1  # _WAIT values: None (batched), _STRICT_SYNC, or (loop, future)


class AuditUnavailable(RuntimeError):
    """The audit store cannot take records; the gate denies with ``audit unavailable``."""


class AuditLog:
    """A tamper-evident audit log: implements the gate's ``AuditSink`` protocol
    (``record_decision``, ``record_outcome`` and their async forms) plus ``record_event`` for
    other governance events (approvals, expiries ...).

    ``store`` is an :class:`AuditStore` or a path to a SQLite file. ``signer`` signs
    checkpoints every ``checkpoint_every`` records or ``checkpoint_seconds``, whichever comes
    first: ``"auto"`` uses (creating on first use) the Ed25519 key ``key_path``, by default
    ``audit-signing.key`` beside a SQLite file; ``None`` disables checkpoints (not recommended:
    truncation then goes undetected).
    """

    def __init__(
        self,
        store: AuditStore | str | os.PathLike[str],
        *,
        mode: Mode = "batched",
        signer: Signer | Literal["auto"] | None = "auto",
        key_path: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 1000,
        checkpoint_seconds: float = 60.0,
        redactor: Redactor | None = None,
        on_failure: Literal["deny", "degraded"] = "deny",
        max_batch: int = 5000,
        batch_delay: float | None = None,
        max_queue: int = 200_000,
        strict_timeout: float = 30.0,
        crash_journal: bool | str | os.PathLike[str] | None = "auto",
    ) -> None:
        if mode not in ("strict", "batched"):
            raise ValueError(f"audit mode must be 'strict' or 'batched', not {mode!r}")
        if on_failure not in ("deny", "degraded"):
            raise ValueError("on_failure must be 'deny' or 'degraded'")
        if not isinstance(store, str | os.PathLike):
            self.store: AuditStore = store
        else:
            self.store = SQLiteAuditStore(store, durable=mode == "strict")
        if signer == "auto":
            if key_path is None:
                base = getattr(self.store, "path", None)
                if base is None:
                    raise ValueError("signer='auto' needs key_path for this store")
                key_path = Path(base).with_name("audit-signing.key")
            signer = Signer.from_file(key_path)
        self.signer: Signer | None = signer
        self.mode: Mode = mode
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.redactor = redactor if redactor is not None else Redactor()
        self.on_failure = on_failure
        self.max_batch = max_batch
        #: batched mode: how long the writer lets records gather before a commit (fewer,
        #: larger batches keep its work off the callers' path); strict mode never waits.
        self.batch_delay = (
            (0.002 if mode == "batched" else 0.0) if batch_delay is None else batch_delay
        )
        self.max_queue = max_queue
        self.strict_timeout = strict_timeout
        self.journal_dir = _journal_dir(crash_journal, mode)
        self._tag = ""
        if self.journal_dir is not None:
            self._tag = hashlib.sha256(self.store.log_id().encode()).hexdigest()[:16]
        self._init_runtime()
        if self.journal_dir is not None:
            self._recover()
        _OPEN.add(self)

    def _init_runtime(self) -> None:
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._done = threading.Condition(self._lock)
        self._queue: deque[list[Any]] = deque()
        self._tickets = 0
        self._durable = 0  # highest ticket committed
        self._error: BaseException | None = None
        self._idle = False
        self._busy = False  # the writer holds a batch taken from the queue
        self._urgent = False  # a flush is waiting: no batch gathering delay
        self._closed = False
        self._thread: threading.Thread | None = None
        self._lost = 0
        self._oldest_ns = 0
        self.written = 0
        self._journals: list[list[Any]] = []  # [Journal, last ticket written to it]
        self._uid_prefix = secrets.token_hex(8) + "-"
        self._uid_n = 0

    def __repr__(self) -> str:
        return f"AuditLog({self.store!r}, mode={self.mode!r})"

    # ------------------------------------------------------------------ the sink protocol

    def record_decision(self, decision: Decision) -> None:
        self._submit("decision", decision, self.mode == "strict")

    async def arecord_decision(self, decision: Decision) -> None:
        await self._asubmit("decision", decision)

    def record_outcome(self, decision: Decision, outcome: str, error: str | None) -> None:
        self._submit("outcome", (decision, outcome, error), self.mode == "strict")

    async def arecord_outcome(self, decision: Decision, outcome: str, error: str | None) -> None:
        await self._asubmit("outcome", (decision, outcome, error))

    def record_event(self, kind: str, data: Mapping[str, Any]) -> None:
        """A governance event that is not a gate decision (``approval.requested``,
        ``approval.granted`` ...), chained like every other record."""
        self._submit(_event_kind(kind), _event_copy(data, self.redactor), self.mode == "strict")

    async def arecord_event(self, kind: str, data: Mapping[str, Any]) -> None:
        await self._asubmit(_event_kind(kind), _event_copy(data, self.redactor))

    # ------------------------------------------------------------------ queue side

    def _enqueue(self, kind: str, payload: Any, wait: Any) -> list[Any]:
        with self._lock:
            if self._closed:
                raise AuditUnavailable("audit log is closed")
            err = self._error
            if err is not None and self.on_failure == "deny":
                raise AuditUnavailable(f"audit store failing: {_text(err)}")
            if len(self._queue) >= self.max_queue:
                if self.on_failure == "deny":
                    raise AuditUnavailable(f"audit backlog full ({self.max_queue} records)")
                self._lost += 1
                log.error(
                    "AUDIT DEGRADED: backlog full, record dropped (%d lost so far)", self._lost
                )
                return [0, kind, 0, None, None, None, None]
            self._tickets += 1
            item = [self._tickets, kind, time.time_ns(), payload, wait, None, None, None]
            if wait is None and self.journal_dir is not None:
                self._journal_write(item)
            if not self._queue:
                self._oldest_ns = item[_TS]
            self._queue.append(item)
            if self._thread is None:
                self._start()
            elif self._idle:
                self._idle = False
                self._cv.notify()
            return item

    def _journal_write(self, item: list[Any]) -> None:
        # Under the lock, before the record is acknowledged (see kitelogik.audit.journal).
        kind, payload = item[_KIND], item[_PAYLOAD]
        if kind == "decision":
            payload = item[_PAYLOAD] = decision_tuple(payload)
        elif kind == "outcome":
            payload = item[_PAYLOAD] = outcome_data(*payload)
        try:
            self._uid_n += 1
            uid = item[_UID] = f"{self._uid_prefix}{self._uid_n}"
            frame = dump_entry((uid, kind, item[_TS], payload))
            current = self._journals[-1] if self._journals else None
            if current is None or not current[0].fits(len(frame)):
                current = [Journal(self.journal_dir, self._tag, len(frame)), 0]  # type: ignore[arg-type]
                self._journals.append(current)
            current[0].write_frame(frame)
            current[1] = item[_TICKET]
        except Exception as exc:
            self._tickets -= 1
            raise AuditUnavailable(f"audit crash journal failed: {_text(exc)}") from exc

    def _journal_committed(self) -> None:
        # Under the lock: reset or delete journal segments whose records are all committed.
        durable = self._durable
        keep = []
        last = self._journals[-1]
        for j in self._journals:
            if j[1] > durable:
                keep.append(j)
            elif j is last:
                if j[0].size:
                    j[0].clear()  # a memory write, no system call
                keep.append(j)
            else:
                j[0].close()
        self._journals = keep

    def _recover(self) -> None:
        """Append the records a dead process acknowledged but did not commit."""
        for path, entries in orphans(self.journal_dir, self._tag):  # type: ignore[arg-type]
            try:
                have = self.store.existing_uids([e[0] for e in entries]) if entries else set()
                missing = [e for e in entries if e[0] not in have]
                if missing:
                    missing = [
                        (uid, kind, ts, data_from_tuple(data) if kind == "decision" else data)
                        for uid, kind, ts, data in missing
                    ]
                    prepared = [
                        prepare_record(
                            kind,
                            ts,
                            data,
                            self.redactor,
                            trusted_keys=kind in RESERVED_KINDS,
                            uid=uid,
                        )
                        for uid, kind, ts, data in missing
                    ]
                    self.store.append(
                        prepared, self.signer, self.checkpoint_every, self.checkpoint_seconds
                    )
                    log.warning(
                        "recovered %d audit records from the crash journal %s",
                        len(missing),
                        path.name,
                    )
                path.unlink()
            except Exception as exc:  # noqa: BLE001 - left in place for the next attempt
                log.error("audit crash journal %s not recovered yet: %s", path, _text(exc))

    def _submit(self, kind: str, payload: Any, strict: bool) -> None:
        try:
            item = self._enqueue(kind, payload, _STRICT_SYNC if strict else None)
        except AuditUnavailable:
            if self.on_failure == "deny":
                raise
            log.error("AUDIT DEGRADED: %s record not written (store unavailable)", kind)
            return
        if not strict or item[_TICKET] == 0:
            return
        deadline = time.monotonic() + self.strict_timeout
        with self._lock:
            while item[_ERR] is None and self._durable < item[_TICKET]:
                left = deadline - time.monotonic()
                if left <= 0:
                    item[_ERR] = AuditUnavailable("timed out waiting for the audit store")
                    break
                self._done.wait(left)
        if item[_ERR] is not None:
            if self.on_failure == "deny":
                raise AuditUnavailable(_text(item[_ERR]))
            log.error("AUDIT DEGRADED: %s record not durable: %s", kind, _text(item[_ERR]))

    async def _asubmit(self, kind: str, payload: Any) -> None:
        if self.mode != "strict":
            self._submit(kind, payload, False)
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        try:
            item = self._enqueue(kind, payload, (loop, fut))
        except AuditUnavailable:
            if self.on_failure == "deny":
                raise
            log.error("AUDIT DEGRADED: %s record not written (store unavailable)", kind)
            return
        if item[_TICKET] == 0:
            return
        try:
            await asyncio.wait_for(asyncio.shield(fut), self.strict_timeout)
        except TimeoutError:
            item[_ERR] = AuditUnavailable("timed out waiting for the audit store")
        if item[_ERR] is not None:
            if self.on_failure == "deny":
                raise AuditUnavailable(_text(item[_ERR]))
            log.error("AUDIT DEGRADED: %s record not durable: %s", kind, _text(item[_ERR]))

    # ------------------------------------------------------------------ writer side

    def _start(self) -> None:
        t = threading.Thread(target=self._run, name="kitelogik-audit-writer", daemon=True)
        self._thread = t
        t.start()

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # a bug here must not silently stop the audit trail
            log.exception("audit writer stopped")
            with self._lock:
                self._error = exc
                self._busy = False
                for item in self._queue:
                    item[_ERR] = exc
                self._done.notify_all()
            raise

    def _loop(self) -> None:
        backoff = 0.0
        last_cp_check = time.monotonic()
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    if self._error is not None:
                        break  # probe the store until it works again
                    self._idle = True
                    self._cv.wait(max(0.05, self.checkpoint_seconds))
                    self._idle = False
                    if (
                        not self._queue
                        and self.signer is not None
                        and time.monotonic() - last_cp_check >= self.checkpoint_seconds
                    ):
                        break
                if not self._queue and self._closed:
                    return
                if (
                    self.batch_delay > 0
                    and self._queue
                    and not self._closed
                    and not self._urgent
                    and len(self._queue) < self.max_batch
                ):
                    self._cv.wait(self.batch_delay)  # let the batch gather (flush cuts it short)
                n = min(len(self._queue), self.max_batch)
                batch = [self._queue.popleft() for _ in range(n)]
                if not self._queue:
                    self._urgent = False
                self._busy = bool(batch)
                self._oldest_ns = self._queue[0][_TS] if self._queue else 0
            if not batch and self._error is not None:
                backoff = min(1.0, backoff * 2 or 0.02)
                time.sleep(backoff)
                try:
                    self.store.append([], None, 0, 0.0)
                except BaseException as exc:  # noqa: BLE001
                    log.error("audit store still unavailable: %s", _text(exc))
                else:
                    backoff = 0.0
                    with self._lock:
                        self._error = None
                    log.warning("audit store recovered")
                continue
            if not batch:  # idle: a time-based checkpoint of what others wrote
                last_cp_check = time.monotonic()
                try:
                    self.store.checkpoint(self.signer)  # type: ignore[arg-type]
                except Exception as exc:  # noqa: BLE001
                    log.error("audit checkpoint failed: %s", _text(exc))
                continue
            prepared = [self._prepare(item) for item in batch]
            try:
                self.store.append(
                    prepared, self.signer, self.checkpoint_every, self.checkpoint_seconds
                )
            except BaseException as exc:  # noqa: BLE001
                backoff = min(1.0, backoff * 2 or 0.02)
                self._failed(batch, exc)
                time.sleep(backoff)
                continue
            backoff = 0.0
            last_cp_check = time.monotonic()
            self._committed(batch)

    def _prepare(self, item: list[Any]) -> Prepared:
        prep = item[_PREP]
        if prep is None:
            kind, payload, uid = item[_KIND], item[_PAYLOAD], item[_UID]
            try:
                if kind == "decision":
                    data = data_from_tuple(
                        payload if isinstance(payload, tuple) else decision_tuple(payload)
                    )
                    prep = prepare_record(
                        kind, item[_TS], data, self.redactor, trusted_keys=True, uid=uid
                    )
                elif kind == "outcome":
                    data = payload if isinstance(payload, dict) else outcome_data(*payload)
                    prep = prepare_record(
                        kind, item[_TS], data, self.redactor, trusted_keys=True, uid=uid
                    )
                else:  # already copied and redacted by record_event
                    prep = prepare_record(kind, item[_TS], payload, None, uid=uid)
            except Exception as exc:  # noqa: BLE001 - record that a record could not be made
                if isinstance(payload, tuple) and payload:
                    did = payload[0]
                elif isinstance(payload, dict):
                    did = payload.get("decision_id")
                else:
                    src = (
                        payload
                        if kind == "decision"
                        else (payload[0] if kind == "outcome" else None)
                    )
                    did = getattr(src, "id", None)
                prep = prepare_record(
                    kind, item[_TS], {"decision_id": did, "unrecordable": _text(exc)}, None
                )
            item[_PREP] = prep
        return prep

    def _committed(self, batch: list[list[Any]]) -> None:
        with self._lock:
            self._durable = batch[-1][_TICKET]
            self._busy = False
            self.written += len(batch)
            if self._error is not None:
                log.warning("audit store recovered")
            self._error = None
            if self._journals:
                self._journal_committed()
            self._done.notify_all()
        for item in batch:
            w = item[_WAIT]
            if isinstance(w, tuple):
                _resolve(w, None)

    def _failed(self, batch: list[list[Any]], exc: BaseException) -> None:
        log.error("audit write failed (%d records, retrying): %s", len(batch), _text(exc))
        keep = []
        with self._lock:
            self._error = exc
            self._busy = False
            for item in batch:
                if item[_WAIT] is None:
                    keep.append(item)  # already acknowledged: must be written eventually
                else:
                    item[_ERR] = exc  # its caller denies; the record is not written
            self._queue.extendleft(reversed(keep))
            if self._queue:
                self._oldest_ns = self._queue[0][_TS]
            self._done.notify_all()
        for item in batch:
            w = item[_WAIT]
            if isinstance(w, tuple):
                _resolve(w, exc)

    # ------------------------------------------------------------------ control

    @property
    def lag_seconds(self) -> float:
        """Age of the oldest record not yet committed (0 when the queue is empty)."""
        oldest = self._oldest_ns
        return max(0.0, (time.time_ns() - oldest) / 1e9) if oldest and self._queue else 0.0

    @property
    def pending(self) -> int:
        return len(self._queue)

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every record queued so far is committed (or, for a ``strict`` record
        whose write failed, refused to its caller). False on timeout."""
        with self._lock:
            target = self._tickets
            if self._queue:
                self._urgent = True
                self._cv.notify_all()
            deadline = None if timeout is None else time.monotonic() + timeout
            while self._thread is not None and (
                self._busy or (self._queue and self._queue[0][_TICKET] <= target)
            ):
                if self._thread is not None and not self._thread.is_alive():
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._done.wait(left if left is None else min(left, 0.5))
            return True

    def checkpoint(self) -> None:
        """Flush, then sign a checkpoint of the current head now."""
        self.flush()
        if self.signer is not None:
            self.store.checkpoint(self.signer)

    def close(self, timeout: float = 30.0) -> None:
        """Flush, sign a final checkpoint, stop the writer and close the store."""
        if self._closed:
            return
        flushed = self.flush(timeout)
        with self._lock:
            self._closed = True
            self._cv.notify_all()
        t = self._thread
        if t is not None and t.is_alive():
            t.join(timeout)
        if flushed and self.signer is not None:
            try:
                self.store.checkpoint(self.signer)
            except Exception as exc:  # noqa: BLE001
                log.error("final audit checkpoint failed: %s", _text(exc))
        if not flushed:
            log.error("audit log closed with %d records not written", len(self._queue))
        for j in self._journals:
            if flushed:
                j[0].close()  # everything committed: delete
            else:
                j[0].release()  # keep it for the next process to recover
        self._journals = []
        self.store.close()
        _OPEN.discard(self)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _after_fork(self) -> None:
        # The child must not write the parent's queued records a second time, nor use its
        # connection, threads or journal (closing our copy of its descriptor releases the
        # parent's lock only when the parent dies).
        for j in self._journals:
            j[0].release()
        self._init_runtime()
        self.store.reopen()


def _journal_dir(setting: Any, mode: str) -> Path | None:
    if setting is None or setting is False or mode == "strict":
        return None  # strict records are durable before they are acknowledged
    if setting == "auto":
        return DEFAULT_DIR if DEFAULT_DIR.is_dir() and os.access(DEFAULT_DIR, os.W_OK) else None
    if setting is True:
        return DEFAULT_DIR
    return Path(setting)


def _resolve(wait: tuple[Any, Any], exc: BaseException | None) -> None:
    loop, fut = wait

    def done() -> None:
        if not fut.done():
            fut.set_result(None)

    with contextlib.suppress(RuntimeError):  # loop closed: the caller is gone
        loop.call_soon_threadsafe(done)


def _event_kind(kind: str) -> str:
    if not isinstance(kind, str) or not kind or len(kind) > 128:
        raise ValueError("event kind must be a non-empty string of at most 128 characters")
    if kind in RESERVED_KINDS:
        raise ValueError(f"event kind {kind!r} is reserved for the gate's own records")
    return kind


def _event_copy(data: Mapping[str, Any], redactor: Redactor) -> Any:
    # Copied now (the caller may mutate its dict after returning); redacted in the copy.
    return prepare(dict(data), redactor)[0]


def _text(exc: BaseException) -> str:
    s = str(exc)
    return f"{type(exc).__name__}: {s}" if s else type(exc).__name__


_OPEN: weakref.WeakSet[AuditLog] = weakref.WeakSet()


def _close_all() -> None:
    for sink in list(_OPEN):
        try:
            sink.close(timeout=5.0)
        except Exception as exc:  # noqa: BLE001
            log.error("closing %r at exit failed: %s", sink, _text(exc))


def _after_fork_all() -> None:
    for sink in list(_OPEN):
        sink._after_fork()


atexit.register(_close_all)
os.register_at_fork(after_in_child=_after_fork_all)
