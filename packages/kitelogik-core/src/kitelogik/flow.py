"""Data-flow control: classification high-water marks and provenance, per session.

Labels are ordered ``public < internal < confidential < restricted`` (an unknown label counts as
``restricted``). Every result a session sees raises its *high-water mark*; every source it read
(user, tool, agent, document) is kept as its *provenance*. :class:`FlowGate` -- a
:class:`~kitelogik.gate.PolicyGate` -- puts both into every policy input (``input.flow``) and adds
the session's labels to the labels of what the session now does, so the shipped policy refuses,
for example, confidential data flowing to an external tool or into an agent of lower clearance.
After an action ran, the gate raises the mark by what the action produced: the tool's declared
``tool["classification"]``, the resource's classification and, for a read, the data's labels.

Labels propagate to child agents: a child spawned through :mod:`kitelogik.agents` starts with its
parent's labels and provenance (:meth:`FlowTracker.inherit`), and a child in the same session
shares them. The caller never computes any of this; it only declares facts about its tools.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kitelogik.decision import Decision
from kitelogik.events import GovernanceEvent
from kitelogik.gate import PolicyGate
from kitelogik.protocols import Outcome

log = logging.getLogger("kitelogik.flow")

__all__ = [
    "LABELS",
    "TRUST",
    "FlowGate",
    "FlowState",
    "FlowTracker",
    "Source",
    "label_rank",
    "max_label",
]

#: Classification labels in increasing order (mirrors ``data.kitelogik.config.classification``).
LABELS: tuple[str, ...] = ("public", "internal", "confidential", "restricted")
#: Trust levels of sources and memory tiers, in increasing order.
TRUST: tuple[str, ...] = ("untrusted", "agent", "user", "system")

_DEFAULT_TRUST = {
    "user": "user",
    "system": "system",
    "agent": "agent",
    "tool": "untrusted",
    "document": "untrusted",
    "mcp": "untrusted",
}


def label_rank(label: str) -> int:
    return LABELS.index(label) if label in LABELS else len(LABELS) - 1


def max_label(labels: Iterable[str]) -> str | None:
    ranks = [label_rank(lbl) for lbl in labels]
    return LABELS[max(ranks)] if ranks else None


def trust_rank(trust: str) -> int:
    return TRUST.index(trust) if trust in TRUST else 0


@dataclass(frozen=True, slots=True)
class Source:
    """Where a piece of data came from. ``kind``: user, system, agent, tool, document or mcp;
    ``trust`` defaults by kind (only user and system input is trusted; tool output, documents
    and MCP results are untrusted)."""

    kind: str
    name: str = ""
    trust: str = ""

    def __post_init__(self) -> None:
        if not self.trust:
            object.__setattr__(self, "trust", _DEFAULT_TRUST.get(self.kind, "untrusted"))
        if self.trust not in TRUST:
            raise ValueError(f"unknown trust level {self.trust!r}; expected one of {TRUST}")

    def to_input(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "trust": self.trust,
            "trust_rank": trust_rank(self.trust),
        }


@dataclass(frozen=True, slots=True)
class FlowState:
    labels: frozenset[str] = frozenset()
    provenance: tuple[Source, ...] = ()

    @property
    def high_water(self) -> str | None:
        return max_label(self.labels)

    @property
    def min_trust(self) -> str | None:
        if not self.provenance:
            return None
        return TRUST[min(trust_rank(s.trust) for s in self.provenance)]

    def to_input(self) -> dict[str, Any]:
        return {
            "high_water": self.high_water,
            "labels": sorted(self.labels),
            "provenance": [s.to_input() for s in self.provenance],
            "min_trust": self.min_trust,
        }


@dataclass
class _Session:
    labels: set[str] = field(default_factory=set)
    provenance: dict[tuple[str, str, str], Source] = field(default_factory=dict)


class FlowTracker:
    """Per-session labels and provenance. The mark only ever rises within a session;
    :meth:`clear` ends a session. In memory by default (thread-safe); with ``path``, in a SQLite
    file that every process of an agent tree can share (WAL), so a child agent in another process
    carries the labels too."""

    def __init__(self, path: str | os.PathLike[str] | None = None, max_sources: int = 256) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self.max_sources = max_sources
        self._db: sqlite3.Connection | None = None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(path), timeout=30, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS kl_flow (session_id TEXT NOT NULL, kind TEXT NOT NULL, "
                "a TEXT NOT NULL, b TEXT NOT NULL DEFAULT '', c TEXT NOT NULL DEFAULT '', "
                "PRIMARY KEY (session_id, kind, a, b, c))"
            )

    def observe(
        self, session_id: str, labels: Iterable[str] = (), sources: Iterable[Source] = ()
    ) -> None:
        labels = [lbl for lbl in labels if isinstance(lbl, str) and lbl]
        sources = list(sources)
        if self._db is not None:
            rows = [(session_id, "label", lbl, "", "") for lbl in labels]
            rows += [(session_id, "source", s.kind, s.name, s.trust) for s in sources]
            if rows:
                with self._lock:
                    self._db.executemany(
                        "INSERT OR IGNORE INTO kl_flow (session_id, kind, a, b, c) "
                        "VALUES (?, ?, ?, ?, ?)",
                        rows,
                    )
            return
        with self._lock:
            s = self._sessions.setdefault(session_id, _Session())
            s.labels.update(labels)
            for src in sources:
                if len(s.provenance) >= self.max_sources:
                    # Never forget the least trusted source: it is what the policy must see.
                    worst = min(s.provenance, key=lambda k: trust_rank(s.provenance[k].trust))
                    if trust_rank(src.trust) >= trust_rank(s.provenance[worst].trust):
                        continue
                s.provenance[(src.kind, src.name, src.trust)] = src

    def state(self, session_id: str) -> FlowState:
        if self._db is not None:
            with self._lock:
                rows = self._db.execute(
                    "SELECT kind, a, b, c FROM kl_flow WHERE session_id = ?", (session_id,)
                ).fetchall()
            labels = frozenset(r[1] for r in rows if r[0] == "label")
            sources = tuple(Source(r[1], r[2], r[3]) for r in rows if r[0] == "source")
            return FlowState(labels, sources)
        with self._lock:
            s = self._sessions.get(session_id)
            if s is None:
                return FlowState()
            return FlowState(frozenset(s.labels), tuple(s.provenance.values()))

    def high_water(self, session_id: str) -> str | None:
        return self.state(session_id).high_water

    def inherit(self, parent_session: str, child_session: str) -> None:
        """A child session starts with everything its parent had seen."""
        if parent_session == child_session:
            return
        st = self.state(parent_session)
        self.observe(child_session, st.labels, st.provenance)

    def clear(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)
            if self._db is not None:
                self._db.execute("DELETE FROM kl_flow WHERE session_id = ?", (session_id,))

    def close(self) -> None:
        if self._db is not None:
            with self._lock:
                self._db.close()


# Events whose *outgoing* data carries the session's labels. A read does not send the
# session's data anywhere, so it is judged by the labels of what it reads only.
def _carries_session_data(doc: Mapping[str, Any]) -> bool:
    et = doc.get("event_type")
    if et in ("tool_call", "plan", "agent.spawn", "agent.delegate"):
        return True
    return et == "data.access" and (doc.get("access") or {}).get("mode") == "write"


class FlowGate(PolicyGate):
    """A :class:`PolicyGate` that tracks data flow (``flow``, a :class:`FlowTracker`) and, when
    given ``agents`` (a :class:`kitelogik.agents.AgentRegistry`), the agent tree: the acting
    agent's depth, capabilities and liveness come from the registry, never from the caller's
    context. All other arguments are :class:`PolicyGate`'s."""

    def __init__(
        self,
        engine: Any = None,
        *,
        flow: FlowTracker | None = None,
        agents: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(engine, **kwargs)
        self.flow = flow if flow is not None else FlowTracker()
        self.agents = agents

    def _input_document(self, event: Any) -> tuple[dict[str, Any], Mapping[str, Any]]:
        doc, args = super()._input_document(event)
        ctx = doc["context"]
        state = self.flow.state(ctx["session_id"])
        doc["flow"] = state.to_input()
        if state.labels and _carries_session_data(doc):
            doc["data_labels"] = sorted(set(doc["data_labels"]) | state.labels)
        if self.agents is not None:
            self._agent_facts(doc)
        return doc, args

    def _agent_facts(self, doc: dict[str, Any]) -> None:
        ctx = doc["context"]
        agent_id = ctx.get("agent_id")
        rec = self.agents.lookup(agent_id) if agent_id else None  # type: ignore[union-attr]
        required = bool(getattr(self.agents, "require_known", False))
        if rec is None:
            doc["agent"] = {
                "known": False,
                "alive": not required,
                "required": required,
                "depth": ctx["delegation_depth"],
                "root": None,
            }
            return
        ctx["delegation_depth"] = max(ctx["delegation_depth"], rec.depth)
        ctx["parent_agent_id"] = rec.parent_id
        alive = self.agents.is_alive(agent_id)  # type: ignore[union-attr]
        doc["agent"] = {
            "known": True,
            "alive": alive,
            "required": required,
            "depth": rec.depth,
            "root": rec.root_id,
        }
        spawn = doc.get("spawn")
        if isinstance(spawn, dict):
            spawn["depth"] = ctx["delegation_depth"] + 1
            if doc["event_type"] == "agent.spawn":
                spawn["parent_capabilities"] = list(rec.capabilities)

    def _after(
        self,
        decision: Decision,
        outcome: Outcome,
        error: str | None,
        actual: Mapping[str, float] | None,
    ) -> Any:
        if outcome == "ran":
            try:
                self.observe_result(decision)
            except Exception:  # the action already ran: log, never raise here
                log.exception("data-flow tracking failed for decision %s", decision.id)
        return (yield from super()._after(decision, outcome, error, actual))

    def observe_result(
        self, decision: Decision, labels: Iterable[str] = (), source: Source | None = None
    ) -> None:
        """Raise the session's mark by what the decided action produced: the tool's declared
        classification, the resource's classification, a read's labels, plus ``labels`` (for
        results whose classification is only known at run time)."""
        doc = decision.input or {}
        found = set(labels)
        tool = doc.get("tool") or {}
        if isinstance(tool.get("classification"), str):
            found.add(tool["classification"])
        res_cls = (doc.get("resource") or {}).get("classification")
        et = doc.get("event_type")
        is_read = et == "data.access" and (doc.get("access") or {}).get("mode") == "read"
        if (et == "tool_call" or is_read) and isinstance(res_cls, str):
            found.add(res_cls)  # a write into a classified store shows the session nothing
        if is_read:
            found.update(x for x in doc.get("data_labels", ()) if isinstance(x, str))
        sources: list[Source] = []
        if source is not None:
            sources.append(source)
        elif et == "tool_call":
            trust = tool.get("trust") if isinstance(tool.get("trust"), str) else "untrusted"
            kind = "mcp" if tool.get("mcp_server") else "tool"
            sources.append(Source(kind, decision.action, trust if trust in TRUST else "untrusted"))
        if found or sources:
            self.flow.observe(decision.session_id, found, sources)


def labelled(event: GovernanceEvent, labels: Iterable[str]) -> GovernanceEvent:
    """A copy of ``event`` with extra data labels (for hosts that label data themselves)."""
    return replace(event, data_labels=tuple(sorted(set(event.data_labels) | set(labels))))
