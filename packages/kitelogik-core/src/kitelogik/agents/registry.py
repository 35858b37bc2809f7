"""The agent registry: who spawned whom, at what depth, with which capabilities, and who is
still alive.

Depth, parent and capabilities of an agent are recorded when it is spawned and are taken from
the registry on every later event -- never from the context the agent presents -- so an agent
cannot escape the depth limit by claiming ``delegation_depth=0`` or by re-registering itself.

:meth:`AgentRegistry.spawn` builds the ``agent.spawn`` event from the registry's record of the
parent, asks the gate, and only on ``allow`` registers the child, gives it a credential delegated
from its parent's (narrowed to the requested capabilities; when a credential broker is configured),
records it in the budget ledger's tree (so its spend counts against its ancestors) and lets it
inherit the parent's data-flow labels. :meth:`kill` marks a whole subtree dead and revokes every
credential in it (cascading, so tokens delegated further down die too).

The broker is any object with ``issue(session_id, scopes, ttl, agent_id=...)``,
``delegate(parent, scopes, session_id, ttl, agent_id=...)`` and ``revoke(token_id, cascade)``
(``kitelogik.anchor.credentials.CredentialBroker``); the registry works without one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kitelogik.decision import Decision, GovernanceError
from kitelogik.events import AgentSpawn, Delegation, SessionContext

__all__ = ["AgentError", "AgentRecord", "AgentRegistry", "Delegated", "Spawned"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kl_agents (agent_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, "
    "parent_id TEXT, root_id TEXT NOT NULL, depth INTEGER NOT NULL, capabilities TEXT NOT NULL, "
    "token_id TEXT, alive INTEGER NOT NULL DEFAULT 1, created_at REAL NOT NULL, "
    "killed_at REAL, kind TEXT)",
    "CREATE INDEX IF NOT EXISTS kl_agents_parent ON kl_agents (parent_id)",
    "CREATE TABLE IF NOT EXISTS kl_agent_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "at REAL NOT NULL, event TEXT NOT NULL, agent_id TEXT, parent_id TEXT, depth INTEGER, "
    "detail TEXT NOT NULL)",
)


class AgentError(RuntimeError):
    """A lifecycle operation that cannot be done (unknown or killed agent, duplicate id)."""


@dataclass(frozen=True, slots=True)
class AgentRecord:
    agent_id: str
    session_id: str
    parent_id: str | None
    root_id: str
    depth: int
    capabilities: tuple[str, ...]
    token_id: str | None
    alive: bool
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Spawned:
    """A spawned child: its record, the context it acts with (depth, parent, scopes and token
    set by the registry) and the decision that allowed it."""

    record: AgentRecord
    context: SessionContext
    decision: Decision


@dataclass(frozen=True, slots=True)
class Delegated:
    decision: Decision
    target: AgentRecord | None
    token: str | None


def _token_parts(issued: Any) -> tuple[str | None, str | None]:
    if issued is None:
        return None, None
    if isinstance(issued, str):
        return issued, None
    return getattr(issued, "token", None), getattr(issued, "token_id", None)


class AgentRegistry:
    """Live agents per tree, in SQLite (``path``; default in memory). ``broker`` (optional): a
    credential broker for delegated child credentials and revocation; ``ledger`` (optional): a
    budget ledger with ``register_agent``; ``flow`` (optional): a
    :class:`kitelogik.flow.FlowTracker`. ``require_known``: a :class:`~kitelogik.flow.FlowGate`
    using this registry denies events of agents it does not know."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        broker: Any = None,
        ledger: Any = None,
        flow: Any = None,
        require_known: bool = False,
        child_ttl_seconds: int | None = None,
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
        self.broker = broker
        self.ledger = ledger
        self.flow = flow
        self.require_known = require_known
        self.child_ttl_seconds = child_ttl_seconds
        self._tokens: dict[str, str] = {}  # agent_id -> bearer token, this process only
        with self._lock:
            if path is not None:
                self._db.execute("PRAGMA journal_mode = WAL")
            for stmt in _SCHEMA:
                self._db.execute(stmt)

    # ------------------------------------------------------------------ records

    def _row(self, row: Sequence[Any] | None) -> AgentRecord | None:
        if row is None:
            return None
        return AgentRecord(
            agent_id=row[0],
            session_id=row[1],
            parent_id=row[2],
            root_id=row[3],
            depth=int(row[4]),
            capabilities=tuple(json.loads(row[5])),
            token_id=row[6],
            alive=bool(row[7]),
            kind=row[8],
        )

    def lookup(self, agent_id: str | None) -> AgentRecord | None:
        if not agent_id:
            return None
        with self._lock:
            cur = self._db.execute(
                "SELECT agent_id, session_id, parent_id, root_id, depth, capabilities, token_id, "
                "alive, kind FROM kl_agents WHERE agent_id = ?",
                (agent_id,),
            )
            return self._row(cur.fetchone())

    def is_alive(self, agent_id: str) -> bool:
        """Alive only if the agent and every ancestor are alive."""
        rec = self.lookup(agent_id)
        seen: set[str] = set()
        while rec is not None and rec.agent_id not in seen:
            if not rec.alive:
                return False
            seen.add(rec.agent_id)
            rec = self.lookup(rec.parent_id)
        return agent_id in seen

    def children(self, agent_id: str) -> list[AgentRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT agent_id, session_id, parent_id, root_id, depth, capabilities, token_id, "
                "alive, kind FROM kl_agents WHERE parent_id = ? ORDER BY created_at",
                (agent_id,),
            ).fetchall()
        return [r for r in (self._row(x) for x in rows) if r is not None]

    def subtree(self, agent_id: str) -> list[AgentRecord]:
        """The agent and all its descendants (breadth first)."""
        root = self.lookup(agent_id)
        if root is None:
            return []
        out, queue, seen = [root], [root.agent_id], {root.agent_id}
        while queue:
            for child in self.children(queue.pop(0)):
                if child.agent_id not in seen:
                    seen.add(child.agent_id)
                    out.append(child)
                    queue.append(child.agent_id)
        return out

    def live(self, root_id: str) -> list[AgentRecord]:
        """Live agents of the tree rooted at ``root_id``."""
        return [r for r in self.subtree(root_id) if self.is_alive(r.agent_id)]

    def events(self, agent_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT at, event, agent_id, parent_id, depth, detail FROM kl_agent_events "
                "WHERE ? IS NULL OR agent_id = ? OR parent_id = ? ORDER BY seq",
                (agent_id, agent_id, agent_id),
            ).fetchall()
        return [
            {
                "at": r[0],
                "event": r[1],
                "agent_id": r[2],
                "parent_id": r[3],
                "depth": r[4],
                **json.loads(r[5]),
            }
            for r in rows
        ]

    def _log(
        self,
        event: str,
        agent_id: str | None,
        parent_id: str | None,
        depth: int | None,
        **detail: Any,
    ) -> None:
        self._db.execute(
            "INSERT INTO kl_agent_events (at, event, agent_id, parent_id, depth, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (time.time(), event, agent_id, parent_id, depth, json.dumps(detail, sort_keys=True)),
        )

    def _insert(
        self,
        agent_id: str,
        session_id: str,
        parent_id: str | None,
        root_id: str,
        depth: int,
        capabilities: Iterable[str],
        token_id: str | None,
        kind: str | None,
    ) -> AgentRecord:
        try:
            self._db.execute(
                "INSERT INTO kl_agents (agent_id, session_id, parent_id, root_id, depth, "
                "capabilities, token_id, alive, created_at, kind) VALUES (?,?,?,?,?,?,?,1,?,?)",
                (
                    agent_id,
                    session_id,
                    parent_id,
                    root_id,
                    depth,
                    json.dumps(sorted(set(capabilities))),
                    token_id,
                    time.time(),
                    kind,
                ),
            )
        except sqlite3.IntegrityError:
            raise AgentError(f"agent id {agent_id!r} is already registered") from None
        rec = self.lookup(agent_id)
        assert rec is not None
        return rec

    # ------------------------------------------------------------------ lifecycle

    def register_root(
        self,
        agent_id: str,
        session_id: str,
        capabilities: Iterable[str] = (),
        *,
        token: str | None = None,
        token_id: str | None = None,
        kind: str | None = None,
        user_role: str | None = None,
    ) -> Spawned:
        """Register a tree's root agent (done by the host, not by an agent). With a broker and
        no ``token``, a root credential is issued for exactly ``capabilities``."""
        caps = tuple(sorted(set(capabilities)))
        if token is None and self.broker is not None:
            token, token_id = _token_parts(
                self.broker.issue(session_id, caps, None, agent_id=agent_id)
            )
        elif token is not None and token_id is None and self.broker is not None:
            token_id = self.broker.verify(token).token_id
        with self._lock:
            rec = self._insert(agent_id, session_id, None, agent_id, 0, caps, token_id, kind)
            self._log("root", agent_id, None, 0, capabilities=list(caps))
        if token is not None:
            self._tokens[agent_id] = token
        if self.ledger is not None:
            self.ledger.register_agent(agent_id, None)
        ctx = SessionContext(
            session_id=session_id,
            agent_id=agent_id,
            user_role=user_role,
            session_scopes=caps,
            delegation_depth=0,
            token=token,
        )
        decision = Decision(
            id="",
            verdict="allow",
            reasons=("root agent registered by the host",),
            risk_tier="operational",
            rules=(),
            engine="registry",
            latency=0.0,
            event_type="agent.root",
            action=agent_id,
            session_id=session_id,
        )
        return Spawned(rec, ctx, decision)

    def context_for(self, agent_id: str, *, user_role: str | None = None) -> SessionContext:
        """The context an agent acts with, built from its record (and its token in this
        process)."""
        rec = self.lookup(agent_id)
        if rec is None:
            raise AgentError(f"unknown agent {agent_id!r}")
        return SessionContext(
            session_id=rec.session_id,
            agent_id=rec.agent_id,
            parent_agent_id=rec.parent_id,
            user_role=user_role,
            session_scopes=rec.capabilities,
            delegation_depth=rec.depth,
            token=self._tokens.get(agent_id),
        )

    def _acting(self, ctx: SessionContext) -> AgentRecord:
        parent = self.lookup(ctx.agent_id)
        if parent is None:
            raise AgentError(f"unknown agent {ctx.agent_id!r}: register the root first")
        if not self.is_alive(parent.agent_id):
            raise AgentError(f"agent {parent.agent_id!r} was killed")
        return parent

    def spawn(
        self,
        gate: Any,
        parent: SessionContext,
        child_id: str,
        requested_capabilities: Iterable[str] = (),
        *,
        kind: str | None = None,
        session_id: str | None = None,
        args: dict[str, Any] | None = None,
    ) -> Spawned:
        """Spawn ``child_id`` under the agent acting in ``parent``. Raises
        :class:`GovernanceError` when the gate does not allow it, :class:`AgentError` for an
        unknown or killed parent or a duplicate id."""
        rec = self._acting(parent)
        if self.lookup(child_id) is not None:
            raise AgentError(f"agent id {child_id!r} is already registered")
        requested = tuple(sorted(set(requested_capabilities)))
        ctx = SessionContext(
            session_id=rec.session_id,
            agent_id=rec.agent_id,
            parent_agent_id=rec.parent_id,
            user_role=parent.user_role,
            session_scopes=rec.capabilities,
            delegation_depth=rec.depth,
            token=self._tokens.get(rec.agent_id, parent.token),
            framework=parent.framework,
        )
        event = AgentSpawn(
            action=kind or "agent",
            args={"child_agent_id": child_id, **(args or {})},
            context=ctx,
            requested_capabilities=requested,
            parent_capabilities=rec.capabilities,
        )
        decision = gate.authorize(event)
        if not decision.allowed:
            with self._lock:
                self._log(
                    "spawn_denied",
                    child_id,
                    rec.agent_id,
                    rec.depth + 1,
                    requested=list(requested),
                    reasons=list(decision.reasons),
                )
            raise GovernanceError(decision)
        child_session = session_id or rec.session_id
        try:
            token, token_id = None, None
            if self.broker is not None:
                parent_ref = self._tokens.get(rec.agent_id) or rec.token_id
                if parent_ref is None:
                    raise AgentError(f"agent {rec.agent_id!r} has no credential to delegate from")
                token, token_id = _token_parts(
                    self.broker.delegate(
                        parent_ref,
                        requested,
                        child_session,
                        self.child_ttl_seconds,
                        agent_id=child_id,
                    )
                )
            with self._lock:
                child = self._insert(
                    child_id,
                    child_session,
                    rec.agent_id,
                    rec.root_id,
                    rec.depth + 1,
                    requested,
                    token_id,
                    kind,
                )
                self._log(
                    "spawn",
                    child_id,
                    rec.agent_id,
                    rec.depth + 1,
                    requested=list(requested),
                    decision_id=decision.id,
                )
            if token is not None:
                self._tokens[child_id] = token
            if self.ledger is not None:
                self.ledger.register_agent(child_id, rec.agent_id)
            if self.flow is not None:
                self.flow.inherit(rec.session_id, child_session)
        except BaseException as exc:
            gate.record_outcome(decision, "failed", f"{type(exc).__name__}: {exc}")
            raise
        gate.record_outcome(decision, "ran", None)
        ctx_child = SessionContext(
            session_id=child_session,
            agent_id=child_id,
            parent_agent_id=rec.agent_id,
            user_role=parent.user_role,
            session_scopes=requested,
            delegation_depth=child.depth,
            token=token,
            framework=parent.framework,
        )
        return Spawned(child, ctx_child, decision)

    def delegate(
        self,
        gate: Any,
        ctx: SessionContext,
        target_agent_id: str,
        scopes: Iterable[str],
        *,
        task: str = "delegate",
        args: dict[str, Any] | None = None,
    ) -> Delegated:
        """Hand work (and authority narrowed to ``scopes``) from the agent acting in ``ctx`` to
        ``target_agent_id``. Raises :class:`GovernanceError` on a deny. With a broker, the
        target receives a credential delegated from the delegator's, narrowed to ``scopes``."""
        rec = self._acting(ctx)
        scopes = tuple(sorted(set(scopes)))
        target = self.lookup(target_agent_id)
        actx = SessionContext(
            session_id=rec.session_id,
            agent_id=rec.agent_id,
            parent_agent_id=rec.parent_id,
            user_role=ctx.user_role,
            session_scopes=rec.capabilities,
            delegation_depth=rec.depth,
            token=self._tokens.get(rec.agent_id, ctx.token),
            framework=ctx.framework,
        )
        event = Delegation(
            action=task,
            args={"target_agent_id": target_agent_id, **(args or {})},
            context=actx,
            child_scopes=scopes,
            target_agent_id=target_agent_id,
        )
        decision = gate.authorize(event)
        if not decision.allowed:
            with self._lock:
                self._log(
                    "delegate_denied",
                    target_agent_id,
                    rec.agent_id,
                    rec.depth + 1,
                    scopes=list(scopes),
                    reasons=list(decision.reasons),
                )
            raise GovernanceError(decision)
        token = None
        try:
            if self.broker is not None:
                parent_ref = self._tokens.get(rec.agent_id) or rec.token_id
                if parent_ref is None:
                    raise AgentError(f"agent {rec.agent_id!r} has no credential to delegate from")
                session = target.session_id if target is not None else rec.session_id
                token, _ = _token_parts(
                    self.broker.delegate(
                        parent_ref,
                        scopes,
                        session,
                        self.child_ttl_seconds,
                        agent_id=target_agent_id,
                    )
                )
            if self.flow is not None and target is not None:
                self.flow.inherit(rec.session_id, target.session_id)
            with self._lock:
                self._log(
                    "delegate",
                    target_agent_id,
                    rec.agent_id,
                    rec.depth + 1,
                    scopes=list(scopes),
                    decision_id=decision.id,
                )
        except BaseException as exc:
            gate.record_outcome(decision, "failed", f"{type(exc).__name__}: {exc}")
            raise
        gate.record_outcome(decision, "ran", None)
        return Delegated(decision, target, token)

    def kill(self, agent_id: str, reason: str = "killed") -> list[str]:
        """Kill ``agent_id`` and its whole subtree; revoke every credential in it (cascading).
        Returns the ids of the agents killed. Idempotent."""
        tree = self.subtree(agent_id)
        if not tree:
            raise AgentError(f"unknown agent {agent_id!r}")
        now = time.time()
        killed: list[str] = []
        with self._lock:
            for rec in tree:
                cur = self._db.execute(
                    "UPDATE kl_agents SET alive = 0, killed_at = ? "
                    "WHERE agent_id = ? AND alive = 1",
                    (now, rec.agent_id),
                )
                if cur.rowcount:
                    killed.append(rec.agent_id)
            self._log("kill", agent_id, None, None, killed=killed, reason=reason)
        errors: list[str] = []
        if self.broker is not None:
            for rec in tree:
                if rec.token_id is None:
                    continue
                try:
                    self.broker.revoke(rec.token_id, True, reason)
                except LookupError:
                    continue
                except Exception as exc:  # noqa: BLE001 - revoke the rest, then report
                    errors.append(f"{rec.agent_id}: {type(exc).__name__}: {exc}")
        for rec in tree:
            self._tokens.pop(rec.agent_id, None)
        if errors:
            raise AgentError(
                "agents killed, but revoking some credentials failed: " + "; ".join(errors)
            )
        return killed

    # ------------------------------------------------------------------ async variants
    # They run the sync operation in a worker thread (the gate is thread-safe), so an async
    # framework can spawn, delegate and kill without blocking its event loop.

    async def aspawn(
        self,
        gate: Any,
        parent: SessionContext,
        child_id: str,
        requested_capabilities: Iterable[str] = (),
        **kwargs: Any,
    ) -> Spawned:
        import asyncio

        return await asyncio.to_thread(
            self.spawn, gate, parent, child_id, tuple(requested_capabilities), **kwargs
        )

    async def adelegate(
        self,
        gate: Any,
        ctx: SessionContext,
        target_agent_id: str,
        scopes: Iterable[str],
        **kwargs: Any,
    ) -> Delegated:
        import asyncio

        return await asyncio.to_thread(
            self.delegate, gate, ctx, target_agent_id, tuple(scopes), **kwargs
        )

    async def akill(self, agent_id: str, reason: str = "killed") -> list[str]:
        import asyncio

        return await asyncio.to_thread(self.kill, agent_id, reason)

    def close(self) -> None:
        with self._lock:
            self._db.close()
