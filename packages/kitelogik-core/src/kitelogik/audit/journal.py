"""The crash journal of ``batched`` mode: acknowledged records survive the process being killed.

In ``batched`` mode ``record_decision`` returns before the writer thread commits the record. To
keep a SIGKILL (or any crash of the process) from losing records already acknowledged, each one
is also copied into a shared memory mapping of a file in a memory file system (``/dev/shm``)
before the call returns. The pages belong to the kernel, so they outlive the process (not a
reboot or power failure: that window is documented). Copying into the mapping is a ``memcpy``
with no system call, so the caller never gives up the GIL on this path.

A segment file holds frames ``[length u32][pickle]`` followed by a zero length. A frame is
published by writing its length last, over the previous terminator, so a process killed in the
middle of a copy leaves the frame unpublished (and unacknowledged). Each segment is held with an
exclusive ``flock`` while its process lives. Once everything in the current segment is
committed it is reset (its first length set to zero); a full segment is replaced by a new one
and deleted once committed.

The next :class:`~kitelogik.audit.AuditLog` opened on the same log takes over segments whose
lock is free (their process died), appends the records that did not reach the store (matched by
a unique id stored with each record), and deletes them.

The journal holds records before redaction (redacting costs more than the rest of the hot path);
it lives in RAM-backed storage, mode 0600, and only until a record is committed.
"""

from __future__ import annotations

import contextlib
import copyreg
import fcntl
import mmap
import os
import pickle
import secrets
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kitelogik.canonical import FrozenDict

__all__ = ["DEFAULT_DIR", "Journal", "orphans", "read_entries"]

DEFAULT_DIR = Path("/dev/shm")
SEGMENT = 8 << 20  # bytes per segment file (sparse: only touched pages use memory)

# Frozen arguments unpickle through their constructor (their __setitem__ refuses mutation).
copyreg.pickle(FrozenDict, lambda fd: (FrozenDict, (dict(fd),)))

_LEN = struct.Struct("<I")
_ZERO = b"\0\0\0\0"


def _name(tag: str) -> str:
    return f"kitelogik-audit-{tag}-"


class Journal:
    """One segment of this process's journal for one log (``tag`` identifies the log)."""

    def __init__(self, directory: Path, tag: str, min_size: int = 0) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{_name(tag)}{os.getpid()}-{secrets.token_hex(6)}.journal"
        self.capacity = max(SEGMENT, min_size + 8)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            os.ftruncate(self.fd, self.capacity)
            self._mm = mmap.mmap(self.fd, self.capacity, mmap.MAP_SHARED, mmap.PROT_WRITE)
        except BaseException:
            os.close(self.fd)
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            raise
        self._prefix = secrets.token_hex(8) + "-"
        self._n = 0
        self.size = 0  # bytes of published frames

    def next_uid(self) -> str:
        self._n += 1
        return f"{self._prefix}{self._n}"

    def fits(self, n: int) -> bool:
        return self.size + 4 + n + 4 <= self.capacity

    def write_frame(self, data: bytes) -> None:
        """Publish one frame (the caller checked :meth:`fits`)."""
        mm, pos, n = self._mm, self.size, len(data)
        mm[pos + 4 : pos + 4 + n] = data
        mm[pos + 4 + n : pos + 8 + n] = _ZERO  # the new terminator ...
        mm[pos : pos + 4] = _LEN.pack(n)  # ... then the length: the frame becomes visible
        self.size = pos + 4 + n

    def clear(self) -> None:
        self._mm[0:4] = _ZERO
        self.size = 0

    def release(self) -> None:
        """Close without deleting (the segment stays for recovery)."""
        with contextlib.suppress(Exception):
            self._mm.close()
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def close(self) -> None:
        """Delete the segment (everything in it is committed)."""
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        self.release()


def dump(entry: tuple[Any, ...]) -> bytes:
    return pickle.dumps(entry, 5)


def read_entries(path: Path) -> list[tuple[Any, ...]]:
    """The published entries of a segment."""
    raw = path.read_bytes()
    out, pos = [], 0
    while pos + 4 <= len(raw):
        (n,) = _LEN.unpack_from(raw, pos)
        if n == 0 or pos + 4 + n > len(raw):
            break
        try:
            out.append(pickle.loads(raw[pos + 4 : pos + 4 + n]))  # noqa: S301 - our 0600 file
        except Exception:  # noqa: BLE001 - cannot happen for a published frame; stop safely
            break
        pos += 4 + n
    return out


@contextlib.contextmanager
def _claim(path: Path) -> Iterator[bool]:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False  # its process is alive
            return
        yield path.exists()  # still there: not already recovered by someone else
    finally:
        os.close(fd)


def orphans(directory: Path, tag: str) -> Iterator[tuple[Path, list[tuple[Any, ...]]]]:
    """Segments of dead processes for this log, each claimed (locked) while the caller
    recovers it; the caller deletes it when done."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob(f"{_name(tag)}*.journal")):
        with _claim(path) as mine:
            if mine:
                yield path, read_entries(path)
