"""Verify an audit chain, and export it with its checkpoints.

:func:`verify` walks the log in order and stops at the first bad record, naming it and what is
wrong with it:

* modified: a record's hash does not match its content, position and link;
* modified and re-hashed: the next record still links to the original hash;
* deleted: a gap in the sequence (or a rewritten tail that no longer matches a signed checkpoint);
* inserted: a record whose successor links past it to its predecessor;
* reordered: records whose positions no longer match their hashes;
* truncated: the log ends before a signed checkpoint (in the store or in an exported anchor file)
  says it reached.

Signed checkpoints are checked against trusted public keys: the ones passed in, else the public
key beside the log's signing key; with neither, against the keys recorded in the log itself (which
proves the log is intact, not who wrote it; the report says so).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from kitelogik.audit.records import GENESIS, Row, chain_hash
from kitelogik.audit.signing import Checkpoint, verify_checkpoint_signature
from kitelogik.audit.store import AuditStore

__all__ = ["VerifyReport", "export", "load_anchors", "verify"]


@dataclass
class VerifyReport:
    ok: bool = True
    records: int = 0
    checkpoints: int = 0
    anchors: int = 0
    last_seq: int = 0
    head: str = GENESIS
    last_signed_seq: int = 0
    first_bad_seq: int | None = None
    first_bad_decision: str | None = None
    problem: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def unsigned_tail(self) -> int:
        """Records after the last signed checkpoint (protected by the chain only)."""
        return max(0, self.last_seq - self.last_signed_seq)

    def fail(self, seq: int, problem: str, decision_id: str | None = None) -> VerifyReport:
        if self.ok:
            self.ok = False
            self.first_bad_seq = seq
            self.first_bad_decision = decision_id
            self.problem = problem
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "checkpoints": self.checkpoints,
            "anchors": self.anchors,
            "last_seq": self.last_seq,
            "head": self.head,
            "last_signed_seq": self.last_signed_seq,
            "unsigned_tail": self.unsigned_tail,
            "first_bad_seq": self.first_bad_seq,
            "first_bad_decision": self.first_bad_decision,
            "problem": self.problem,
            "warnings": self.warnings,
        }


def _content_hash(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _columns_match(row: Row) -> str | None:
    try:
        content = json.loads(row.body)
    except ValueError:
        return "its body is not JSON"
    if not isinstance(content, dict) or not isinstance(content.get("data"), dict):
        return "its body is not a record"
    data = content["data"]
    expect_verdict = (
        data.get("verdict") if content.get("kind") == "decision" else data.get("outcome")
    )
    checks = (
        ("ts", content.get("ts"), row.ts),
        ("kind", content.get("kind"), row.kind),
        ("decision_id", data.get("decision_id"), row.decision_id),
        ("verdict", expect_verdict, row.verdict),
        ("action", data.get("action"), row.action),
        ("session_id", data.get("session_id"), row.session_id),
    )
    for name, want, got in checks:
        if (want if isinstance(want, str) else None) != got:
            return f"its {name} column was changed ({got!r}, the signed content says {want!r})"
    return None


def verify(
    store: AuditStore,
    *,
    public_keys: Iterable[bytes] | None = None,
    anchors: Sequence[Checkpoint] = (),
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Check the whole chain of ``store`` and its checkpoints (plus exported ``anchors``)."""
    report = VerifyReport()
    try:
        log_id: str | None = store.log_id()
    except Exception as exc:  # noqa: BLE001
        report.warnings.append(f"log id unreadable: {exc}")
        log_id = None
    missing = getattr(store, "missing_protections", None)
    if missing is not None:
        try:
            gone = missing()
        except Exception as exc:  # noqa: BLE001
            gone = [f"(unreadable: {exc})"]
        if gone:
            report.warnings.append(
                "append-only protection is missing: "
                + ", ".join(gone)
                + " (the chain still shows any change made to the records)"
            )
    stored = store.checkpoints()
    report.checkpoints, report.anchors = len(stored), len(anchors)
    trusted = {k.hex() for k in public_keys} if public_keys is not None else None
    if trusted is None and (stored or anchors):
        report.warnings.append(
            "no trusted public key given: checkpoint signatures were checked against the keys "
            "recorded in the log itself (proves integrity, not authorship)"
        )
    by_seq: dict[int, list[tuple[str, Checkpoint]]] = {}
    for origin, cps in (("checkpoint", stored), ("anchor", anchors)):
        for cp in cps:
            why = verify_checkpoint_signature(cp, log_id)
            if why is None and trusted is not None and cp.public_key not in trusted:
                why = f"signed by an untrusted key {cp.key_id}"
            if why is not None:
                return report.fail(cp.seq, f"{origin} at record {cp.seq} is invalid: {why}")
            by_seq.setdefault(cp.seq, []).append((origin, cp))

    expected, prev = 1, GENESIS
    recent: list[str] = [GENESIS]  # hashes of the last few records, newest last
    last_good_cp = 0
    for row in store.rows():
        seq = row.seq
        if seq != expected:
            return report.fail(
                expected,
                f"records {expected}..{seq - 1} are missing (deleted)"
                if seq > expected + 1
                else f"record {expected} is missing (deleted)",
            )
        own = chain_hash(_content_hash(row.body), row.prev, seq)
        if row.prev != prev:
            if len(recent) >= 2 and row.prev == recent[-2]:
                return report.fail(
                    seq - 1,
                    f"record {seq - 1} was inserted (record {seq} "
                    f"links past it to record {seq - 2})",
                    None,
                )
            if own == row.hash:
                return report.fail(
                    seq - 1,
                    f"record {seq - 1} was modified and re-hashed "
                    f"(record {seq} still links to its original hash)",
                )
            return report.fail(
                seq,
                f"record {seq} does not link to record {seq - 1} (modified, inserted or reordered)",
                row.decision_id,
            )
        if own != row.hash:
            return report.fail(
                seq,
                f"record {seq} was modified (its hash does not match its "
                "content, position and link)",
                row.decision_id,
            )
        why = _columns_match(row)
        if why:
            return report.fail(seq, f"record {seq} was modified ({why})", row.decision_id)
        for origin, cp in by_seq.get(seq, ()):
            if cp.hash != row.hash:
                return report.fail(
                    last_good_cp + 1,
                    f"the log was rewritten between record "
                    f"{last_good_cp + 1} and record {seq}: record {seq} does not "
                    f"match the signed {origin}",
                )
            last_good_cp = seq
        prev = row.hash
        recent.append(prev)
        if len(recent) > 3:
            del recent[0]
        report.records += 1
        report.last_seq, report.head = seq, prev
        expected += 1
        if progress is not None and seq % 1000 == 0:
            progress(seq)
    if progress is not None:
        progress(report.last_seq)
    beyond = [s for s in by_seq if s > report.last_seq]
    if beyond:
        origin = by_seq[max(beyond)][0][0]
        return report.fail(
            report.last_seq + 1,
            f"the log is truncated: a signed {origin} covers "
            f"record {max(beyond)} but the log ends at record {report.last_seq}",
        )
    report.last_signed_seq = last_good_cp
    return report


def load_anchors(lines: Iterable[str]) -> list[Checkpoint]:
    """Checkpoints from an export (JSON lines; other lines are ignored)."""
    out = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        d = json.loads(line)
        if isinstance(d, dict) and d.get("type") == "checkpoint":
            out.append(Checkpoint.from_dict(d))
    return out


def _iter_export(
    store: AuditStore, checkpoints_only: bool, since: str | None, until: str | None
) -> Iterator[dict[str, Any]]:
    keys = sorted({cp.public_key for cp in store.checkpoints()})
    yield {
        "type": "log",
        "log_id": store.log_id(),
        "public_keys": keys,
        "format": "kitelogik.audit.export.v1",
    }
    if not checkpoints_only:
        for row in store.rows(since=since, until=until):
            yield row.to_dict()
    for cp in store.checkpoints():
        yield cp.to_dict()


CSV_FIELDS = (
    "type",
    "seq",
    "ts",
    "kind",
    "decision_id",
    "verdict",
    "action",
    "session_id",
    "hash",
    "prev",
    "body",
    "key_id",
    "public_key",
    "signature",
    "payload",
)


def export(
    store: AuditStore,
    out: IO[str],
    fmt: str = "jsonl",
    *,
    checkpoints_only: bool = False,
    since: str | None = None,
    until: str | None = None,
) -> int:
    """Write the log (and its checkpoints, last) as JSON lines or CSV; return lines written."""
    n = 0
    if fmt == "jsonl":
        for item in _iter_export(store, checkpoints_only, since, until):
            out.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")
            n += 1
        return n
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r} (jsonl or csv)")
    w = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore")
    w.writeheader()
    if not checkpoints_only:
        for row in store.rows(since=since, until=until):
            w.writerow(
                {
                    "type": "record",
                    "seq": row.seq,
                    "ts": row.ts,
                    "kind": row.kind,
                    "decision_id": row.decision_id,
                    "verdict": row.verdict,
                    "action": row.action,
                    "session_id": row.session_id,
                    "hash": row.hash,
                    "prev": row.prev,
                    "body": row.body,
                }
            )
            n += 1
    for cp in store.checkpoints():
        w.writerow(
            {
                "type": "checkpoint",
                "seq": cp.seq,
                "ts": cp.ts,
                "hash": cp.hash,
                "key_id": cp.key_id,
                "public_key": cp.public_key,
                "signature": cp.signature,
                "payload": cp.payload,
            }
        )
        n += 1
    return n


def export_text(store: AuditStore, fmt: str = "jsonl") -> str:
    buf = io.StringIO()
    export(store, buf, fmt)
    return buf.getvalue()
