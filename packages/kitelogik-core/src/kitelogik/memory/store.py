"""Memory entries that remember where they came from.

Every entry records its source (``user``, ``system``, ``agent``, ``tool``, ``document``,
``mcp``: a :class:`~kitelogik.flow.Source`) and is stored in a trust tier (``untrusted`` <
``agent`` < ``user`` < ``system``). The source an entry is *claimed* to have is not taken on
faith:

* a claim of ``user`` (or ``system``) input holds only when the content is what the host
  recorded the user (or system) actually saying in this session (:meth:`record_user_input`);
* content that overlaps a tool output the host recorded in this session
  (:meth:`record_tool_output`) and is claimed as more trusted is *spoofed*: its effective source
  is that tool, and the policy denies the write;
* any other unverifiable claim is downgraded to ``agent`` (what the model wrote itself).

Every write is a ``data.access`` event (action ``memory.write``, mode ``write``) decided by the
gate, with the target tier and the effective and claimed sources in ``input.args.memory``. The
shipped policy escalates content into a tier more trusted than its source (a human decides) and
denies spoofed sources. Without a gate, only writes into a tier no more trusted than the source
are allowed. Reading entries records their labels and sources in the session's data flow
(:class:`~kitelogik.flow.FlowTracker`), so policies see the provenance of the data behind every
later action (``input.flow.provenance``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kitelogik.decision import GovernanceError
from kitelogik.events import DataAccess, SessionContext
from kitelogik.flow import TRUST, Source, max_label, trust_rank

__all__ = ["TIERS", "MemoryEntry", "MemoryPolicyError", "MemoryStore"]

#: Memory tiers, least trusted first. A tier's trust is the trust level of the same name.
TIERS: tuple[str, ...] = TRUST

#: Word n-gram length used to recognise tool output inside content claimed as user input.
SHINGLE = 6

_WORD = re.compile(r"\w+", re.UNICODE)


def _tokens(text: str) -> list[str]:
    """Words of ``text`` after NFKC, case folding and removal of format characters (zero-width
    spaces and joiners, bidi controls) that would otherwise split a copied phrase."""
    norm = unicodedata.normalize("NFKC", text)
    norm = "".join(ch for ch in norm if unicodedata.category(ch) not in ("Cf", "Mn"))
    return _WORD.findall(norm.casefold())


def _contains(hay: list[str], needle: list[str]) -> bool:
    if not needle:
        return False
    return f" {' '.join(needle)} " in f" {' '.join(hay)} "


def _shingles(tokens: list[str]) -> set[str]:
    return {" ".join(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1)}


class MemoryPolicyError(PermissionError):
    """A write refused without a gate (untrusted content into a more trusted tier)."""


@dataclass(frozen=True, slots=True)
class MemoryEntry:
    id: str
    namespace: str
    tier: str
    content: str
    source: Source
    claimed_source: Source
    spoofed: bool
    labels: tuple[str, ...]
    session_id: str
    created_at: float
    decision_id: str | None
    sha256: str

    def provenance(self) -> dict[str, Any]:
        return {
            "source": self.source.to_input(),
            "claimed_source": self.claimed_source.to_input(),
            "spoofed": self.spoofed,
            "tier": self.tier,
            "session_id": self.session_id,
            "decision_id": self.decision_id,
            "sha256": self.sha256,
        }


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kl_memory (id TEXT PRIMARY KEY, namespace TEXT NOT NULL, "
    "tier TEXT NOT NULL, content TEXT NOT NULL, source TEXT NOT NULL, claimed TEXT NOT NULL, "
    "spoofed INTEGER NOT NULL, labels TEXT NOT NULL, session_id TEXT NOT NULL, "
    "created_at REAL NOT NULL, decision_id TEXT, sha256 TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS kl_memory_ns ON kl_memory (namespace, tier)",
    "CREATE TABLE IF NOT EXISTS kl_memory_seen (session_id TEXT NOT NULL, kind TEXT NOT NULL, "
    "name TEXT NOT NULL, trust TEXT NOT NULL, text TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS kl_memory_seen_s ON kl_memory_seen (session_id, kind)",
)


def _src(data: str) -> Source:
    d = json.loads(data)
    return Source(d["kind"], d["name"], d["trust"])


def _dump(s: Source) -> str:
    return json.dumps({"kind": s.kind, "name": s.name, "trust": s.trust}, sort_keys=True)


class MemoryStore:
    """Tiered memory in SQLite (``path``; default in memory). ``gate``: the
    :class:`~kitelogik.gate.PolicyGate` that decides every write (escalations go to its
    approver); ``flow``: the :class:`~kitelogik.flow.FlowTracker` that reads are recorded in
    (default: the gate's, when it is a :class:`~kitelogik.flow.FlowGate`)."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        gate: Any = None,
        flow: Any = None,
        default_labels: Sequence[str] = ("internal",),
    ) -> None:
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            ":memory:" if path is None else str(path),
            timeout=30,
            isolation_level=None,
            check_same_thread=False,
        )
        self._lock = threading.RLock()
        self.gate: Any = gate
        self.flow = flow if flow is not None else getattr(gate, "flow", None)
        self.default_labels = tuple(default_labels)
        with self._lock:
            for stmt in _SCHEMA:
                self._db.execute(stmt)

    # ------------------------------------------------------------------ what the host saw

    def record_user_input(self, session_id: str, text: str) -> Source:
        """The host records what the user actually said (never what the model says they said)."""
        return self._seen(session_id, Source("user", "user"), text)

    def record_system_input(self, session_id: str, text: str, name: str = "system") -> Source:
        return self._seen(session_id, Source("system", name), text)

    def record_tool_output(
        self, session_id: str, tool: str, text: str, trust: str = "untrusted", kind: str = "tool"
    ) -> Source:
        """The host (or a plugin) records every tool result the model saw."""
        return self._seen(session_id, Source(kind, tool, trust), text)

    def _seen(self, session_id: str, src: Source, text: str) -> Source:
        with self._lock:
            self._db.execute(
                "INSERT INTO kl_memory_seen (session_id, kind, name, trust, text) "
                "VALUES (?, ?, ?, ?, ?)",
                (session_id, src.kind, src.name, src.trust, text),
            )
        return src

    def _seen_texts(self, session_id: str) -> list[tuple[Source, list[str]]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, name, trust, text FROM kl_memory_seen WHERE session_id = ?",
                (session_id,),
            ).fetchall()
        return [(Source(k, n, t), _tokens(text)) for k, n, t, text in rows]

    # ------------------------------------------------------------------ provenance

    def effective_source(
        self, session_id: str, content: str, claimed: Source
    ) -> tuple[Source, bool]:
        """The source the content provably has, and whether the claim was spoofed."""
        words = _tokens(content)
        seen = self._seen_texts(session_id)
        if claimed.kind in ("user", "system"):
            for src, toks in seen:
                if src.kind == claimed.kind and _contains(toks, words):
                    return src, False
        overlap = self._tool_overlap(words, seen)
        if overlap is not None and trust_rank(overlap.trust) < trust_rank(claimed.trust):
            return overlap, True
        if claimed.kind in ("user", "system"):
            return Source("agent", claimed.name or "model"), False
        return claimed, False

    @staticmethod
    def _tool_overlap(words: list[str], seen: list[tuple[Source, list[str]]]) -> Source | None:
        mine = _shingles(words)
        worst: Source | None = None
        for src, toks in seen:
            if src.kind in ("user", "system"):
                continue
            hit = bool(mine & _shingles(toks)) if len(words) >= SHINGLE else _contains(toks, words)
            if hit and (worst is None or trust_rank(src.trust) < trust_rank(worst.trust)):
                worst = src
        return worst

    # ------------------------------------------------------------------ write / read

    def write(
        self,
        ctx: SessionContext,
        content: str,
        *,
        tier: str,
        source: Source,
        labels: Iterable[str] | None = None,
        namespace: str | None = None,
    ) -> MemoryEntry:
        """Store ``content`` in ``tier``, claimed to come from ``source``. Raises
        :class:`GovernanceError` when the gate does not allow the write, or
        :class:`MemoryPolicyError` when there is no gate and the source is less trusted than the
        tier."""
        if tier not in TIERS:
            raise ValueError(f"unknown memory tier {tier!r}; expected one of {TIERS}")
        if not isinstance(content, str) or not content:
            raise ValueError("content must be a non-empty string")
        ns = namespace or ctx.session_id
        given = set(labels if labels is not None else self.default_labels)
        if self.flow is not None:
            # What the session has seen travels with what it writes: a confidential session
            # cannot launder its data through memory by labelling the entry lower.
            given |= set(self.flow.state(ctx.session_id).labels)
        lbls = tuple(sorted(given))
        effective, spoofed = self.effective_source(ctx.session_id, content, source)
        digest = hashlib.sha256(content.encode()).hexdigest()
        decision_id: str | None = None
        decision = None
        gate: Any = self.gate
        if gate is not None:
            event = DataAccess(
                action="memory.write",
                mode="write",
                context=ctx,
                data_labels=lbls,
                classification=max_label(lbls),
                args={
                    "namespace": ns,
                    "memory": {
                        "tier": tier,
                        "tier_trust": trust_rank(tier),
                        "source": effective.to_input(),
                        "source_trust": trust_rank(effective.trust),
                        "claimed_source": source.to_input(),
                        "spoofed": spoofed,
                        "sha256": digest,
                        "chars": len(content),
                    },
                },
            )
            decision = gate.authorize(event)
            if not decision.allowed:
                raise GovernanceError(decision)
            decision_id = decision.id
        elif trust_rank(effective.trust) < trust_rank(tier) or spoofed:
            raise MemoryPolicyError(
                f"{effective.trust} content (from {effective.kind} {effective.name!r}) may not be "
                f"written into the {tier!r} tier without a policy decision (configure a gate)"
            )
        entry = MemoryEntry(
            id=str(uuid.uuid4()),
            namespace=ns,
            tier=tier,
            content=content,
            source=effective,
            claimed_source=source,
            spoofed=spoofed,
            labels=lbls,
            session_id=ctx.session_id,
            created_at=time.time(),
            decision_id=decision_id,
            sha256=digest,
        )
        try:
            with self._lock:
                self._db.execute(
                    "INSERT INTO kl_memory (id, namespace, tier, content, source, claimed, "
                    "spoofed, labels, session_id, created_at, decision_id, sha256) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        entry.id,
                        ns,
                        tier,
                        content,
                        _dump(effective),
                        _dump(source),
                        int(spoofed),
                        json.dumps(list(lbls)),
                        ctx.session_id,
                        entry.created_at,
                        decision_id,
                        digest,
                    ),
                )
        except BaseException as exc:
            if decision is not None and gate is not None:
                gate.record_outcome(decision, "failed", f"{type(exc).__name__}: {exc}")
            raise
        if decision is not None and gate is not None:
            gate.record_outcome(decision, "ran", None)
        return entry

    def read(
        self,
        ctx: SessionContext,
        *,
        namespace: str | None = None,
        min_tier: str | None = None,
        contains: str | None = None,
    ) -> list[MemoryEntry]:
        """Entries of ``namespace`` (default: the session's), optionally only from ``min_tier``
        up. With a gate, the read is a ``data.access`` (``memory.read``) decided on the labels of
        the entries returned (raises :class:`GovernanceError` when the session lacks the
        clearance). What is returned is recorded in the session's data flow: its labels raise the
        high-water mark and its sources become the session's provenance."""
        ns = namespace or ctx.session_id
        with self._lock:
            rows = self._db.execute(
                "SELECT id, namespace, tier, content, source, claimed, spoofed, labels, "
                "session_id, created_at, decision_id, sha256 FROM kl_memory WHERE namespace = ? "
                "ORDER BY created_at",
                (ns,),
            ).fetchall()
        floor = trust_rank(min_tier) if min_tier else 0
        out = [
            MemoryEntry(
                id=r[0],
                namespace=r[1],
                tier=r[2],
                content=r[3],
                source=_src(r[4]),
                claimed_source=_src(r[5]),
                spoofed=bool(r[6]),
                labels=tuple(json.loads(r[7])),
                session_id=r[8],
                created_at=r[9],
                decision_id=r[10],
                sha256=r[11],
            )
            for r in rows
            if trust_rank(r[2]) >= floor and (contains is None or contains in r[3])
        ]
        if not out:
            return out
        labels = sorted({lbl for e in out for lbl in e.labels})
        gate: Any = self.gate
        if gate is not None:
            # Reading is a data access like any other: the session needs the clearance for
            # the most sensitive entry it would receive.
            decision = gate.authorize(
                DataAccess(
                    action="memory.read",
                    mode="read",
                    context=ctx,
                    data_labels=labels,
                    classification=max_label(labels),
                    args={"namespace": ns, "entries": len(out)},
                )
            )
            if not decision.allowed:
                raise GovernanceError(decision)
            gate.record_outcome(decision, "ran", None)
        if self.flow is not None:
            self.flow.observe(ctx.session_id, labels, {e.source for e in out})
        return out

    def close(self) -> None:
        with self._lock:
            self._db.close()
