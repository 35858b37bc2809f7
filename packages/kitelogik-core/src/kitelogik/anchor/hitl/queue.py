"""The approval queue: the :class:`~kitelogik.protocols.Approver` the gate waits on.

``gate = PolicyGate(approver=ApprovalQueue())``: when a policy escalates a call, the gate calls
:meth:`ApprovalQueue.wait_for_approval`, which

1. stores a pending request bound to ``decision.binding_digest`` (the SHA-256 of the canonical JSON
   of event type, action, arguments, session and decision id), audits it and notifies reviewers;
2. waits until it is approved (by ``quorum`` distinct approvers), denied, or expired (the timeout
   is a deny);
3. consumes the approval, once, checking again that the stored call still hashes to the digest of
   the decision the gate holds.

An approval therefore opens exactly one call: other arguments, another session, another decision,
a replay, or a use after expiry all fail. Any error (the store is down) propagates, and the gate
turns it into a deny.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from kitelogik.anchor.hitl.auth import APPROVER, ApproverIdentity
from kitelogik.anchor.hitl.models import (
    ApprovalConflict,
    ApprovalRequest,
    SeparationOfDutiesError,
    Status,
    UnknownRequest,
    VoteKind,
)
from kitelogik.anchor.hitl.store import ApprovalStore, open_store
from kitelogik.canonical import thaw
from kitelogik.protocols import ApprovalResult

if TYPE_CHECKING:
    import os

    from kitelogik.decision import Decision
    from kitelogik.events import GovernanceEvent

__all__ = ["ApprovalQueue", "Notifier", "default_principals"]

log = logging.getLogger("kitelogik.hitl")


class Notifier:
    """Something told about each new request (a webhook, a chat tool). Failures are logged."""

    def notify(self, request: ApprovalRequest) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def default_principals(decision: Decision, event: GovernanceEvent) -> set[str]:
    """Who asked: the session, its agent and parent agent, and the verified credential's agent.
    None of them may approve the request (separation of duties)."""
    names: set[str] = set()
    ctx = getattr(event, "context", None)
    for attr in ("session_id", "agent_id", "parent_agent_id"):
        value = getattr(ctx, attr, None)
        if isinstance(value, str) and value:
            names.add(value)
    cred = (decision.input or {}).get("credential") if decision.input is not None else None
    if isinstance(cred, dict):
        for key in ("agent_id", "session_id"):
            value = cred.get(key)
            if isinstance(value, str) and value:
                names.add(value)
    return names


def _resolve_audit(audit: Any) -> Any:
    """``"default"`` is the same default audit log the gate writes to (when the audit package
    is present); ``None`` disables auditing of approvals explicitly."""
    if isinstance(audit, str):
        if audit != "default":
            raise ValueError(f"audit must be a sink, 'default' or None, not {audit!r}")
        try:
            from kitelogik.audit import default_audit_sink
        except ImportError:  # pragma: no cover - the audit package ships with the core
            return None
        return default_audit_sink()
    return audit


def _request_id(decision: Decision) -> str:
    return f"apr_{decision.id}"


def _identity(approver: ApproverIdentity | str) -> ApproverIdentity:
    if isinstance(approver, ApproverIdentity):
        return approver
    if not isinstance(approver, str) or not approver.strip():
        raise ValueError("approver must be an ApproverIdentity or a non-empty name")
    # A plain name is trusted code's own choice (the local CLI resolves tokens to identities).
    return ApproverIdentity(name=approver.strip(), roles=frozenset({APPROVER}), via="local")


class ApprovalQueue:
    """A durable queue of approval requests that implements the gate's ``Approver``.

    ``store``: an :class:`ApprovalStore`, a SQLite path, a ``postgresql://`` DSN, or None for
    ``$KITELOGIK_HOME/approvals.db``. ``quorum``: distinct approvals needed (N of the M
    approvers holding tokens). ``separation_of_duties``: the requesting session's principals may
    not approve. ``audit``: a sink with ``record_event(kind, data)``; ``"default"`` (the default)
    is the gate's default audit log, ``None`` disables it. Recorded kinds: ``approval.requested``,
    ``approval.granted`` (one approver's vote), ``approval.denied``, ``approval.expired``,
    ``approval.used`` (the gate consumed it) and ``approval.refused`` (a use was refused).
    ``ttl``: how long a request stays open (default: the gate's approval timeout).
    """

    def __init__(
        self,
        store: ApprovalStore | str | os.PathLike[str] | None = None,
        *,
        quorum: int = 1,
        separation_of_duties: bool = True,
        audit: Any = "default",
        notifiers: Iterable[Notifier] = (),
        ttl: float | None = None,
        principal_of: Callable[[Decision, GovernanceEvent], Iterable[str]] | None = None,
    ) -> None:
        if quorum < 1:
            raise ValueError("quorum must be at least 1")
        if store is None or isinstance(store, str) or hasattr(store, "__fspath__"):
            store = open_store(store)  # type: ignore[arg-type]
        self.store: ApprovalStore = store  # type: ignore[assignment]
        self.quorum = quorum
        self.separation_of_duties = separation_of_duties
        self.audit = _resolve_audit(audit)
        self.notifiers = list(notifiers)
        self.ttl = ttl
        self.principal_of = principal_of or default_principals

    # ------------------------------------------------------------------ audit and notify

    def _audit(self, kind: str, data: dict[str, Any], *, required: bool = False) -> None:
        record = getattr(self.audit, "record_event", None)
        if record is None:
            return
        try:
            record(kind, data)
        except Exception:
            if required:
                raise
            log.exception("audit of %s failed", kind)

    def _notify(self, request: ApprovalRequest) -> None:
        for notifier in self.notifiers:
            try:
                notifier.notify(request)
            except Exception:
                log.exception("approval notifier %r failed for %s", notifier, request.id)

    # ------------------------------------------------------------------ requests

    def request(
        self, decision: Decision, event: GovernanceEvent, timeout: float | None = None
    ) -> ApprovalRequest:
        """Store a pending request for an escalated decision (audited; reviewers notified)."""
        if decision.verdict != "escalate":
            raise ValueError(f"only an escalated decision needs approval, not {decision.verdict}")
        now = time.time()
        ttl = self.ttl if self.ttl is not None else (timeout if timeout is not None else 300.0)
        ctx = getattr(event, "context", None)
        principals = sorted(set(self.principal_of(decision, event)))
        req = ApprovalRequest(
            id=_request_id(decision),
            digest=decision.binding_digest,
            decision_id=decision.id,
            event_type=decision.event_type,
            action=decision.action,
            args=thaw(decision.args),
            session_id=decision.session_id,
            status="pending",
            quorum=self.quorum,
            created_at=now,
            expires_at=now + max(0.0, ttl),
            risk_tier=decision.risk_tier,
            reasons=tuple(decision.reasons),
            rules=tuple(decision.rules),
            agent_id=getattr(ctx, "agent_id", None),
            user_role=getattr(ctx, "user_role", None),
            framework=getattr(ctx, "framework", None),
            principals=tuple(principals),
        )
        if req.bound_digest() != req.digest:
            raise ApprovalConflict("the decision's arguments do not survive storage unchanged")
        self.store.create(req)
        self._audit(
            "approval.requested",
            {
                "request_id": req.id,
                "decision_id": req.decision_id,
                "digest": req.digest,
                "action": req.action,
                "session_id": req.session_id,
                "risk_tier": req.risk_tier,
                "quorum": req.quorum,
                "expires_at": req.expires_at,
            },
            required=True,
        )
        self._notify(req)
        return req

    async def arequest(
        self, decision: Decision, event: GovernanceEvent, timeout: float | None = None
    ) -> ApprovalRequest:
        return await asyncio.to_thread(self.request, decision, event, timeout)

    def get(self, request_id: str) -> ApprovalRequest:
        req = self.store.get(request_id)
        if req is None:
            raise UnknownRequest(f"no approval request {request_id!r}")
        return req

    def list(self, status: Status | None = "pending", limit: int = 200) -> list[ApprovalRequest]:
        """Requests by status (pending ones whose time has passed are left out)."""
        now = time.time()
        found = self.store.list(status, limit)
        if status == "pending":
            found = [r for r in found if r.expires_at > now]
        return found

    # ------------------------------------------------------------------ reviewers

    def approve(
        self,
        request_id: str,
        approver: ApproverIdentity | str,
        reason: str = "",
        digest: str | None = None,
    ) -> ApprovalRequest:
        """Record an approval by an authenticated approver. ``digest``, when given, must be the
        digest the reviewer was shown (it binds the click to the call reviewed)."""
        return self._vote(request_id, approver, "approve", reason, digest)

    def deny(
        self,
        request_id: str,
        approver: ApproverIdentity | str,
        reason: str = "",
        digest: str | None = None,
    ) -> ApprovalRequest:
        return self._vote(request_id, approver, "deny", reason, digest)

    async def aapprove(
        self,
        request_id: str,
        approver: ApproverIdentity | str,
        reason: str = "",
        digest: str | None = None,
    ) -> ApprovalRequest:
        return await asyncio.to_thread(self.approve, request_id, approver, reason, digest)

    async def adeny(
        self,
        request_id: str,
        approver: ApproverIdentity | str,
        reason: str = "",
        digest: str | None = None,
    ) -> ApprovalRequest:
        return await asyncio.to_thread(self.deny, request_id, approver, reason, digest)

    def _vote(
        self,
        request_id: str,
        approver: ApproverIdentity | str,
        vote: VoteKind,
        reason: str,
        digest: str | None,
    ) -> ApprovalRequest:
        who = _identity(approver)
        who.require(APPROVER)
        if not isinstance(reason, str) or len(reason) > 2000:
            raise ValueError("reason must be a string of at most 2000 characters")
        req = self.get(request_id)
        if self.separation_of_duties and who.name.strip().casefold() in {
            p.strip().casefold() for p in req.principals
        }:
            raise SeparationOfDutiesError(
                f"{who.name} is a principal of session {req.session_id} and may not decide "
                "its own request"
            )
        try:
            updated = self.store.vote(
                request_id, who.name, vote, reason, who.via, time.time(), digest
            )
        except ApprovalConflict as exc:
            if "expired" in str(exc):
                self._audit(
                    "approval.expired",
                    {"request_id": request_id, "digest": req.digest, "by": who.name},
                )
            raise
        self._audit(
            "approval.granted" if vote == "approve" else "approval.denied",
            {
                "request_id": request_id,
                "digest": updated.digest,
                "approver": who.name,
                "via": who.via,
                "reason": reason,
                "status": updated.status,
                "approvals": len(updated.approvers),
                "quorum": updated.quorum,
            },
        )
        return updated

    # ------------------------------------------------------------------ waiting agents

    def _result(self, req: ApprovalRequest, now: float) -> ApprovalResult | None:
        status = req.effective_status(now)
        if status == "pending":
            return None
        if status == "approved":
            why = "; ".join(
                f"{v.approver}: {v.reason}" if v.reason else v.approver
                for v in req.votes
                if v.vote == "approve"
            )
            return ApprovalResult(
                True, f"approved by {why}", req.approvers, req.id, req.digest, "approved"
            )
        if status == "denied":
            denier = next((v for v in req.votes if v.vote == "deny"), None)
            why = (
                f"denied by {denier.approver}" + (f": {denier.reason}" if denier.reason else "")
                if denier
                else "denied"
            )
            return ApprovalResult(False, why, (), req.id, req.digest, "denied")
        return ApprovalResult(
            False,
            "no decision before the approval request expired",
            (),
            req.id,
            req.digest,
            "expired",
        )

    def _expired(self, request_id: str, now: float, force: bool) -> ApprovalResult:
        req = self.store.expire(request_id, now, force=force)
        result = self._result(req, max(now, req.expires_at)) if req.status != "pending" else None
        if result is None:  # cannot happen: expire() marks it; stay closed anyway
            result = ApprovalResult(
                False,
                "no decision before the approval request expired",
                (),
                req.id,
                req.digest,
                "expired",
            )
        if result.status == "expired":
            self._audit("approval.expired", {"request_id": req.id, "digest": req.digest})
        return result

    def wait(self, request_id: str, timeout: float) -> ApprovalResult:
        """Block until the request is approved, denied or expired, at most ``timeout`` seconds
        (then it is expired: a deny)."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self.store.listen(request_id) as listener:
            while True:
                now = time.time()
                result = self._result(self.get(request_id), now)
                if result is not None:
                    if result.status == "expired":
                        return self._expired(request_id, now, force=False)
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    return self._expired(request_id, now, force=True)
                listener.wait(left)

    async def await_request(self, request_id: str, timeout: float) -> ApprovalResult:
        """The async :meth:`wait`."""
        deadline = time.monotonic() + max(0.0, timeout)
        async with self.store.alisten(request_id) as listener:
            while True:
                now = time.time()
                req = await asyncio.to_thread(self.get, request_id)
                result = self._result(req, now)
                if result is not None:
                    if result.status == "expired":
                        return await asyncio.to_thread(self._expired, request_id, now, False)
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    return await asyncio.to_thread(self._expired, request_id, now, True)
                await listener.wait(left)

    def consume(self, request_id: str, decision: Decision) -> ApprovalResult:
        """Use an approval for ``decision``, once. Refused (a deny) for any other call, a
        second use, or a request that is not approved."""
        try:
            req = self.store.consume(request_id, decision.binding_digest, time.time())
        except ApprovalConflict as exc:
            self._audit(
                "approval.refused",
                {"request_id": request_id, "digest": decision.binding_digest, "reason": str(exc)},
            )
            return ApprovalResult(False, str(exc), (), request_id, None, "error")
        self._audit(
            "approval.used",
            {
                "request_id": req.id,
                "digest": req.digest,
                "decision_id": decision.id,
                "approvers": req.approvers,
            },
        )
        result = self._result(req, time.time())
        assert result is not None
        return result

    # ------------------------------------------------------------------ the Approver protocol

    def wait_for_approval(
        self, decision: Decision, event: GovernanceEvent, timeout: float
    ) -> ApprovalResult:
        request_id = _request_id(decision)
        try:
            self.request(decision, event, timeout)
            result = self.wait(request_id, timeout)
        except BaseException:
            self._withdraw(request_id)
            raise
        if not result.approved:
            return result
        return self.consume(request_id, decision)

    async def await_approval(
        self, decision: Decision, event: GovernanceEvent, timeout: float
    ) -> ApprovalResult:
        request_id = _request_id(decision)
        try:
            await self.arequest(decision, event, timeout)
            result = await self.await_request(request_id, timeout)
        except BaseException:
            # Also when cancelled while the request was being stored: close it, so no reviewer
            # approves a call nobody will run. Synchronous on purpose (we are being cancelled).
            self._withdraw(request_id)
            raise
        if not result.approved:
            return result
        return await asyncio.to_thread(self.consume, request_id, decision)

    def _withdraw(self, request_id: str) -> None:
        """The agent stopped waiting (cancelled, or the store failed): close the request so no
        reviewer approves a call nobody will run."""
        try:
            self.store.expire(request_id, time.time(), force=True)
        except UnknownRequest:
            pass
        except Exception:  # noqa: BLE001 - best effort; the request expires anyway
            log.warning("could not withdraw approval request %s", request_id)
