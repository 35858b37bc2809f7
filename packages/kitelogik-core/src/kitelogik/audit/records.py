"""What an audit record holds, and how records are chained.

Every record's content is ``{"v": 1, "kind", "ts", "data"}``; its ``body`` is the RFC 8785
canonical JSON of that content. The chain commits to the body and to the previous record::

    content_hash = sha256(body)
    hash         = sha256(canonical_json({"content": content_hash, "prev": prev_hash, "seq": seq}))

with ``prev_hash`` of the first record ``"0" * 64``. The second line is built by string
formatting, which is exactly its canonical JSON (fixed keys in sorted order, hex strings, an
integer), so a writer holding the store's lock does only a little hashing per record.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from kitelogik.audit._canon import Redactor, canonical, prepare

if TYPE_CHECKING:
    from kitelogik.decision import Decision

__all__ = [
    "GENESIS",
    "RESERVED_KINDS",
    "Prepared",
    "Row",
    "chain_hash",
    "decision_data",
    "format_ts",
    "outcome_data",
    "prepare_record",
]

GENESIS = "0" * 64
RESERVED_KINDS = frozenset({"decision", "outcome"})


def chain_hash(content_hash: str, prev: str, seq: int) -> str:
    text = f'{{"content":"{content_hash}","prev":"{prev}","seq":{seq}}}'
    return hashlib.sha256(text.encode("ascii")).hexdigest()


_ts_cache: list[tuple[int, str]] = [(-1, "")]  # one tuple, swapped atomically


def format_ts(ns: int) -> str:
    """RFC 3339 UTC with microseconds; sorts lexically."""
    secs, rem = divmod(ns, 1_000_000_000)
    cached = _ts_cache[0]
    if cached[0] != secs:
        cached = (secs, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)))
        _ts_cache[0] = cached
    return f"{cached[1]}.{rem // 1000:06d}Z"


class Prepared(NamedTuple):
    """A record ready to be chained: everything but its position."""

    ts: str
    kind: str
    decision_id: str | None
    verdict: str | None
    action: str | None
    session_id: str | None
    body: str
    content_hash: str
    #: A unique id for crash recovery (not part of the chain).
    uid: str | None = None


@dataclass(frozen=True, slots=True)
class Row:
    """A stored record."""

    seq: int
    ts: str
    kind: str
    decision_id: str | None
    verdict: str | None
    action: str | None
    session_id: str | None
    body: str
    prev: str
    hash: str
    uid: str | None = None  # crash-recovery id, not part of the chain

    def to_dict(self) -> dict[str, Any]:
        import json

        return {
            "type": "record",
            "seq": self.seq,
            "hash": self.hash,
            "prev": self.prev,
            "record": json.loads(self.body),
        }


DECISION_FIELDS: tuple[str, ...] = (
    "decision_id",
    "event_type",
    "action",
    "args",
    "verdict",
    "reasons",
    "rules",
    "risk_tier",
    "engine",
    "engine_decision_id",
    "policy_version",
    "session_id",
    "agent_id",
    "token_id",
    "latency_us",
    "obligations",
    "approval",
)


def decision_tuple(decision: Decision) -> tuple[Any, ...]:
    """The decision's recorded fields, in :data:`DECISION_FIELDS` order (latency in seconds):
    the cheapest form to copy on the hot path."""
    doc = decision.input
    agent = token = None
    if doc is not None:
        ctx = doc.get("context")
        if isinstance(ctx, Mapping):
            agent = ctx.get("agent_id")
        cred = doc.get("credential")
        if isinstance(cred, Mapping):
            token = cred.get("token_id")
    return (
        decision.id,
        decision.event_type,
        decision.action,
        decision.args,
        decision.verdict,
        decision.reasons,
        decision.rules,
        decision.risk_tier,
        decision.engine,
        decision.engine_decision_id,
        getattr(decision, "policy_version", ""),
        decision.session_id,
        agent,
        token,
        decision.latency,
        decision.obligations,
        decision.approval,
    )


def data_from_tuple(t: tuple[Any, ...]) -> dict[str, Any]:
    data: dict[str, Any] = dict(zip(DECISION_FIELDS, t, strict=True))
    lat = round(float(t[14]) * 1e6, 1)
    data["latency_us"] = int(lat) if lat.is_integer() else lat
    return data


def decision_data(decision: Decision) -> dict[str, Any]:
    return data_from_tuple(decision_tuple(decision))


def outcome_data(decision: Decision, outcome: str, error: str | None) -> dict[str, Any]:
    return {
        "decision_id": decision.id,
        "event_type": decision.event_type,
        "action": decision.action,
        "session_id": decision.session_id,
        "verdict": decision.verdict,
        "outcome": outcome,
        "error": error,
        "approval": decision.approval,
    }


def prepare_record(
    kind: str,
    ts_ns: int,
    data: Any,
    redactor: Redactor | None,
    trusted_keys: bool = False,
    uid: str | None = None,
) -> Prepared:
    """Redact, canonicalize and hash one record's content (no store, no lock needed)."""
    ts = format_ts(ts_ns)
    clean, fast = prepare(data, redactor, trusted_keys)
    if not isinstance(clean, dict):
        clean = {"value": clean}
    body = canonical({"v": 1, "kind": kind, "ts": ts, "data": clean}, fast)
    did = clean.get("decision_id")
    verdict = clean.get("verdict") if kind == "decision" else clean.get("outcome")
    action = clean.get("action")
    sid = clean.get("session_id")
    return Prepared(
        ts,
        kind,
        did if type(did) is str else None,
        verdict if type(verdict) is str else None,
        action if type(action) is str else None,
        sid if type(sid) is str else None,
        body,
        hashlib.sha256(body.encode("utf-8")).hexdigest(),
        uid,
    )
