"""The policy gate: one decision routine, driven synchronously or asynchronously.

The routine (:meth:`PolicyGate._decide`) is a generator that performs no I/O itself. Whenever it
needs something from the outside world -- verify a credential, reserve budget, evaluate the
policy, write the audit record, wait for a human -- it yields an :class:`_Op` naming the object
and method; :meth:`PolicyGate.check` performs it with the sync method and :meth:`acheck` awaits
the async one, then sends the result (or throws the exception) back in. So sync and async share
every line of logic and cannot drift apart.

Fail closed: every exception anywhere in the pipeline becomes a deny whose reason names what
failed. Nothing in Kite Logik's own machinery can let a call through by failing.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from kitelogik.canonical import CanonicalizationError, Limits, canonicalize, thaw
from kitelogik.decision import Decision, GovernanceError, new_decision_id
from kitelogik.engines.base import EngineResult, PolicyEngine
from kitelogik.events import (
    EVENT_CLASSES,
    GovernanceEvent,
    PlanProposal,
    ResourceUse,
    SessionContext,
)
from kitelogik.protocols import (
    ApprovalResult,
    Approver,
    AuditSink,
    BudgetLedger,
    CredentialError,
    CredentialVerifier,
    Outcome,
    Reservation,
    VerifiedCredential,
)

__all__ = ["PolicyGate"]

log = logging.getLogger("kitelogik.gate")
T = TypeVar("T")

_MAX_ACTION_LEN = 256
_DEFAULT_DENY = "no policy allows this action (deny by default)"
# NaN and infinities were already refused by the canonicalizer; the encoder is built once
# because json.dumps with options constructs a new one per call.
_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


@dataclass(slots=True)
class _Op:
    """A request from the decision routine to the driver: call ``target.<name>(*args)`` (sync
    driver) or ``await target.a<name>(*args)`` (async driver; ``aname`` overrides)."""

    target: Any
    name: str
    args: tuple[Any, ...]
    aname: str | None = None

    def run(self) -> Any:
        return getattr(self.target, self.name)(*self.args)

    async def arun(self) -> Any:
        fn = getattr(self.target, self.aname or "a" + self.name, None)
        if fn is None:
            return self.run()
        return await fn(*self.args)


_Routine = Generator[_Op, Any, T]

#: The call an enforcement point is currently running. A nested enforcement point (a plugin
#: wrapping a tool that is itself ``@governed``) finds the same call here and reuses the outer
#: decision instead of deciding and auditing it twice.
_RUNNING: contextvars.ContextVar[tuple[str, Decision] | None] = contextvars.ContextVar(
    "kitelogik_running_call", default=None
)


def _drive(routine: _Routine[T]) -> T:
    try:
        op = next(routine)
    except StopIteration as stop:  # decided without asking the outside world
        return stop.value
    while True:
        try:
            value = op.run()
        except (KeyboardInterrupt, SystemExit):
            routine.close()
            raise
        except BaseException as exc:  # noqa: BLE001 - pyo3 panics are BaseExceptions
            try:
                op = routine.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            op = routine.send(value)
        except StopIteration as stop:
            return stop.value


async def _adrive(routine: _Routine[T]) -> T:
    try:
        op = next(routine)
    except StopIteration as stop:
        return stop.value
    while True:
        try:
            value = await op.arun()
        except (KeyboardInterrupt, SystemExit):
            routine.close()
            raise
        except BaseException as exc:
            import asyncio

            if isinstance(exc, asyncio.CancelledError):
                routine.close()
                raise
            try:
                op = routine.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            op = routine.send(value)
        except StopIteration as stop:
            return stop.value


def _error_text(exc: BaseException) -> str:
    text = str(exc).split("Stack backtrace:", 1)[0].strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _str_list(value: Any, field_name: str) -> list[str]:
    if value is None:
        return []
    if type(value) is not list and type(value) is not tuple:
        raise CanonicalizationError(f"{field_name} must be a list of strings")
    for v in value:
        if type(v) is not str:
            raise CanonicalizationError(f"{field_name} must be a list of strings")
    return list(value)


def _context_document(ctx: Any) -> dict[str, Any]:
    if not isinstance(ctx, SessionContext):
        raise CanonicalizationError("context must be a SessionContext")
    if not isinstance(ctx.session_id, str):
        raise CanonicalizationError("context.session_id must be a string")
    depth = ctx.delegation_depth
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
        raise CanonicalizationError("context.delegation_depth must be a non-negative integer")
    for name in ("agent_id", "parent_agent_id", "user_role", "framework"):
        v = getattr(ctx, name)
        if v is not None and not isinstance(v, str):
            raise CanonicalizationError(f"context.{name} must be a string or None")
    return {
        "session_id": ctx.session_id,
        "agent_id": ctx.agent_id,
        "parent_agent_id": ctx.parent_agent_id,
        "user_role": ctx.user_role,
        "session_scopes": _str_list(ctx.session_scopes, "context.session_scopes"),
        "delegation_depth": depth,
        "framework": ctx.framework,
    }


class PolicyGate:
    """Decides governance events by policy, before they happen.

    ``engine`` defaults to the embedded :class:`~kitelogik.engines.rego.RegoEngine` on the
    bundled policies plus ``policy_dir`` (or ``./policies``). Optional collaborators:
    ``credentials`` (a :class:`CredentialVerifier`; when set, every event must carry a valid
    token), ``budget`` (a :class:`BudgetLedger`), ``audit`` (an :class:`AuditSink`; ``"default"``
    is the local SQLite log, ``None`` disables auditing explicitly) and ``approver`` (an
    :class:`Approver` for escalations; without one, an escalation is a deny at the enforcement
    points).
    """

    def __init__(
        self,
        engine: PolicyEngine | None = None,
        *,
        policy_dir: str | os.PathLike[str] | None = None,
        credentials: CredentialVerifier | None = None,
        budget: BudgetLedger | None = None,
        audit: AuditSink | str | None = "default",
        approver: Approver | None = None,
        approval_timeout: float = 300.0,
        limits: Limits | None = None,
        base_dir: str | None = None,
        resolve_symlinks: bool = True,
    ) -> None:
        if engine is None:
            from kitelogik.engines.rego import RegoEngine

            engine = RegoEngine(policy_dir)
        elif policy_dir is not None:
            raise ValueError("pass either engine= or policy_dir=, not both")
        self.engine: PolicyEngine = engine
        self.credentials = credentials
        self.budget = budget
        self.audit: AuditSink | None = _resolve_audit(audit)
        self.approver = approver
        self.approval_timeout = approval_timeout
        self.limits = limits or Limits()
        self.base_dir = base_dir
        self.resolve_symlinks = resolve_symlinks

    # ------------------------------------------------------------------ public decision API

    def check(self, event: GovernanceEvent) -> Decision:
        """The policy's decision for ``event`` (``escalate`` is reported as it is)."""
        return _drive(self._decide(event))

    async def acheck(self, event: GovernanceEvent) -> Decision:
        return await _adrive(self._decide(event))

    def authorize(self, event: GovernanceEvent) -> Decision:
        """The final verdict at an enforcement point: ``allow`` or ``deny``. An escalation waits
        for a human through the approver; no approver, a timeout or a refusal is a deny."""
        return _drive(self._authorize(event))

    async def aauthorize(self, event: GovernanceEvent) -> Decision:
        return await _adrive(self._authorize(event))

    def run(self, event: GovernanceEvent, fn: Callable[..., T]) -> T:
        """Authorize ``event`` and, if allowed, call ``fn(**args)`` with the decided arguments.
        Raises :class:`GovernanceError` when the call may not run."""
        decision = self.authorize(event)
        if not decision.allowed:
            raise GovernanceError(decision)
        return self.invoke(decision, fn)

    async def arun(self, event: GovernanceEvent, fn: Callable[..., Awaitable[T]]) -> T:
        decision = await self.aauthorize(event)
        if not decision.allowed:
            raise GovernanceError(decision)
        return await self.ainvoke(decision, fn)

    def invoke(self, decision: Decision, fn: Callable[..., T]) -> T:
        """Run an allowed call: ``fn`` receives a fresh mutable copy of exactly the decided
        arguments; the outcome is audited and the budget settled. Exceptions propagate."""
        if not decision.allowed:
            raise GovernanceError(decision)
        running = _RUNNING.get()
        if running is not None and running[1].id == decision.id:
            # A nested enforcement point reusing the outer decision: the outer one audits.
            return fn(**thaw(decision.args))
        token = _RUNNING.set((_call_key(decision), decision))
        try:
            result = fn(**thaw(decision.args))
        except BaseException as exc:
            _RUNNING.reset(token)
            self.record_outcome(decision, "failed", _error_text(exc))
            raise
        _RUNNING.reset(token)
        self.record_outcome(decision, "ran", None)
        return result

    async def ainvoke(self, decision: Decision, fn: Callable[..., Awaitable[T]]) -> T:
        if not decision.allowed:
            raise GovernanceError(decision)
        running = _RUNNING.get()
        if running is not None and running[1].id == decision.id:
            return await fn(**thaw(decision.args))
        token = _RUNNING.set((_call_key(decision), decision))
        try:
            result = await fn(**thaw(decision.args))
        except BaseException as exc:
            _RUNNING.reset(token)
            await self.arecord_outcome(decision, "failed", _error_text(exc))
            raise
        _RUNNING.reset(token)
        await self.arecord_outcome(decision, "ran", None)
        return result

    def record_outcome(
        self,
        decision: Decision,
        outcome: Outcome,
        error: str | None = None,
        actual_cost: Mapping[str, float] | None = None,
    ) -> None:
        """After the action: audit its outcome and settle the budget reservation. Never raises
        (the action already happened; a failure here is logged loudly)."""
        _drive(self._after(decision, outcome, error, actual_cost))

    async def arecord_outcome(
        self,
        decision: Decision,
        outcome: Outcome,
        error: str | None = None,
        actual_cost: Mapping[str, float] | None = None,
    ) -> None:
        await _adrive(self._after(decision, outcome, error, actual_cost))

    # ------------------------------------------------------------------ the routine

    def _authorize(self, event: GovernanceEvent) -> _Routine[Decision]:
        running = _RUNNING.get()
        if running is not None:
            # Inside an enforcement point already running this very call: reuse its decision.
            reused = yield from self._reuse(event, running)
            if reused is not None:
                return reused
        decision = yield from self._decide(event)
        if decision.verdict != "escalate":
            return decision
        if self.approver is None:
            decision = _resolve(
                decision,
                "deny",
                "escalation required but no approver is "
                "configured (escalate is a deny without one)",
                None,
            )
        else:
            try:
                result: ApprovalResult = yield _Op(
                    self.approver,
                    "wait_for_approval",
                    (decision, event, self.approval_timeout),
                    aname="await_approval",
                )
            except GeneratorExit:  # the driver closing the routine: never swallow
                raise
            except BaseException as exc:  # noqa: BLE001
                result = ApprovalResult(
                    False, f"approval failed: {_error_text(exc)}", status="error"
                )
            if not isinstance(result, ApprovalResult):
                result = ApprovalResult(
                    False, "approver returned a malformed answer", status="error"
                )
            approval = {
                "status": result.status or ("approved" if result.approved else "denied"),
                "approvers": list(result.approvers),
                "reason": result.reason,
                "request_id": result.request_id,
                "digest": result.digest,
            }
            if result.approved and result.digest != decision.binding_digest:
                result = ApprovalResult(False, "approval is not bound to this exact call")
                approval["status"] = "error"
            if result.approved:
                decision = _resolve(decision, "allow", None, approval)
            else:
                decision = _resolve(
                    decision, "deny", f"human approval not granted: {result.reason}", approval
                )
        if decision.verdict == "deny":
            # The audit record says "escalate"; its outcome says how that ended (and the held
            # budget is released), so the log shows every escalation that never ran.
            yield from self._after(decision, "skipped", decision.reasons[-1], None)
        return decision

    def _reuse(
        self, event: GovernanceEvent, running: tuple[str, Decision]
    ) -> _Routine[Decision | None]:
        try:
            canon = canonicalize(
                event.args,
                limits=self.limits,
                base=self.base_dir,
                resolve_symlinks=self.resolve_symlinks,
            )
        except CanonicalizationError:
            return None
        key = _key(event.event_type, event.action, canon.args)
        return running[1] if key == running[0] else None
        yield  # pragma: no cover - makes this a generator

    def _decide(self, event: GovernanceEvent) -> _Routine[Decision]:
        start = time.perf_counter()
        decision_id = new_decision_id()
        engine_name = getattr(self.engine, "name", type(self.engine).__name__)
        event_type = getattr(event, "event_type", "")
        action = getattr(event, "action", "")
        ctx = getattr(event, "context", None)
        session_id = getattr(ctx, "session_id", "") if ctx is not None else ""
        base: dict[str, Any] = dict(
            id=decision_id,
            engine=engine_name,
            event_type=str(event_type),
            action=action if isinstance(action, str) else repr(action),
            session_id=session_id if isinstance(session_id, str) else "",
            policy_version=str(getattr(self.engine, "policy_version", "") or ""),
        )
        reservation: Reservation | None = None
        doc: dict[str, Any] | None = None
        args: Mapping[str, Any] = {}

        def deny(reason: str, rule: str) -> Decision:
            return Decision(
                verdict="deny",
                reasons=(reason,),
                risk_tier="unknown",
                rules=(rule,),
                latency=time.perf_counter() - start,
                args=args,
                input=doc,
                **base,
            )

        try:
            doc, args = self._input_document(event)
            if self.credentials is not None:
                try:
                    cred: VerifiedCredential = yield _Op(
                        self.credentials,
                        "verify_for",
                        (ctx.token, session_id),  # type: ignore[union-attr]
                    )
                except CredentialError as exc:
                    decision = deny(f"credential rejected: {exc}", "kitelogik.credential")
                    yield from self._audit(decision)
                    return decision
                except GeneratorExit:  # the driver closing the routine: never swallow
                    raise
                except BaseException as exc:  # noqa: BLE001
                    decision = deny(
                        f"credential check failed: {_error_text(exc)}", "kitelogik.credential"
                    )
                    yield from self._audit(decision)
                    return decision
                if not isinstance(cred, VerifiedCredential):
                    raise TypeError("credential verifier returned a malformed answer")
                doc["credential"] = cred.to_input()
                allowed = set(cred.scopes)
                ctxdoc = doc["context"]
                ctxdoc["session_scopes"] = [s for s in ctxdoc["session_scopes"] if s in allowed]
                ctxdoc["delegation_depth"] = max(ctxdoc["delegation_depth"], cred.depth)
                spawn = doc.get("spawn")
                if isinstance(spawn, dict):  # the child sits below the *verified* depth, and
                    # the parent's capabilities are at most its verified scopes
                    spawn["depth"] = max(spawn.get("depth") or 0, ctxdoc["delegation_depth"] + 1)
                    spawn["parent_capabilities"] = [
                        c for c in spawn.get("parent_capabilities") or () if c in allowed
                    ]
                if cred.agent_id is not None:
                    ctxdoc["agent_id"] = cred.agent_id
            if self.budget is not None:
                try:
                    reservation = yield _Op(self.budget, "reserve", (event,))
                except GeneratorExit:  # the driver closing the routine: never swallow
                    raise
                except BaseException as exc:  # noqa: BLE001
                    decision = deny(f"budget unavailable: {_error_text(exc)}", "kitelogik.budget")
                    yield from self._audit(decision)
                    return decision
                if not isinstance(reservation, Reservation):
                    raise TypeError("budget ledger returned a malformed reservation")
                doc["budget"] = {
                    "requested": dict(reservation.requested),
                    "remaining": dict(reservation.remaining),
                    "reserved": reservation.granted,
                    **reservation.extra,
                }
            input_json = _encode(doc)
            if len(input_json) > self.limits.max_bytes + 65536:
                raise CanonicalizationError(
                    f"event is larger than the {self.limits.max_bytes}-byte limit"
                )
            try:
                result: EngineResult = yield _Op(self.engine, "evaluate", (input_json,))
            except GeneratorExit:  # the driver closing the routine: never swallow
                raise
            except BaseException as exc:  # noqa: BLE001
                decision = deny(f"policy engine error: {_error_text(exc)}", "kitelogik.engine")
            else:
                decision = self._from_document(result, start, base, args, doc)
        except CanonicalizationError as exc:
            decision = deny(f"invalid event: {exc}", "kitelogik.input")
        except GeneratorExit:  # the driver closing the routine: never swallow
            raise
        except BaseException as exc:
            log.exception("decision pipeline failed")
            decision = deny(f"internal error: {_error_text(exc)}", "kitelogik.internal")
        if reservation is not None:
            decision = replace(decision, reservation=reservation)
        decision = yield from self._audit(decision)
        if decision.verdict == "deny" and reservation is not None:
            yield from self._release(decision)
        return decision

    def _audit(self, decision: Decision) -> _Routine[Decision]:
        if self.audit is None:
            return decision
        try:
            yield _Op(self.audit, "record_decision", (decision,))
        except GeneratorExit:  # the driver closing the routine: never swallow
            raise
        except BaseException as exc:  # noqa: BLE001
            log.error("audit write failed, denying: %s", _error_text(exc))
            return replace(
                decision,
                verdict="deny",
                reasons=(f"audit unavailable: {_error_text(exc)}",),
                rules=(*decision.rules, "kitelogik.audit"),
            )
        return decision

    def _release(self, decision: Decision) -> _Routine[None]:
        reservation = decision.reservation
        if self.budget is None or not isinstance(reservation, Reservation):
            return
        if not reservation.granted:
            return
        try:
            yield _Op(self.budget, "release", (reservation,))
        except GeneratorExit:  # the driver closing the routine: never swallow
            raise
        except BaseException as exc:  # noqa: BLE001
            log.error("budget release failed for %s: %s", decision.id, _error_text(exc))

    def _after(
        self,
        decision: Decision,
        outcome: Outcome,
        error: str | None,
        actual: Mapping[str, float] | None,
    ) -> _Routine[None]:
        reservation = decision.reservation
        if self.budget is not None and isinstance(reservation, Reservation) and reservation.granted:
            try:
                if outcome == "skipped":
                    yield _Op(self.budget, "release", (reservation,))
                else:
                    yield _Op(self.budget, "commit", (reservation, actual))
            except GeneratorExit:  # the driver closing the routine: never swallow
                raise
            except BaseException as exc:  # noqa: BLE001
                log.error("budget settle failed for %s: %s", decision.id, _error_text(exc))
        if self.audit is not None:
            try:
                yield _Op(self.audit, "record_outcome", (decision, outcome, error))
            except GeneratorExit:  # the driver closing the routine: never swallow
                raise
            except BaseException as exc:  # noqa: BLE001
                log.error("audit outcome write failed for %s: %s", decision.id, _error_text(exc))

    # ------------------------------------------------------------------ pure helpers

    def _input_document(self, event: Any) -> tuple[dict[str, Any], Mapping[str, Any]]:
        cls = type(event)
        if not isinstance(event, GovernanceEvent) or EVENT_CLASSES.get(cls.event_type) is not cls:
            raise CanonicalizationError(
                f"unknown event type {cls.__name__}; expected one of "
                + ", ".join(c.__name__ for c in EVENT_CLASSES.values())
            )
        action = event.action
        if not isinstance(action, str) or not action or len(action) > _MAX_ACTION_LEN:
            raise CanonicalizationError(
                f"action must be a non-empty string of at most {_MAX_ACTION_LEN} characters"
            )
        if "\x00" in action:
            raise CanonicalizationError("action contains a NUL byte")
        ctx = event.context
        ctxdoc = ctx._doc if isinstance(ctx, SessionContext) else None
        if ctxdoc is None:
            ctxdoc = _context_document(ctx)
            object.__setattr__(ctx, "_doc", ctxdoc)
        canon = canonicalize(
            event.args,
            limits=self.limits,
            base=self.base_dir,
            resolve_symlinks=self.resolve_symlinks,
        )
        paths, hosts = list(canon.paths), list(canon.hosts)
        doc: dict[str, Any] = {
            "event_type": cls.event_type,
            "action": action,
            "args": canon.args,
            "resource": {"paths": paths, "hosts": hosts, "classification": event.classification},
            "context": dict(ctxdoc),  # a copy: the credential step narrows it per event
            "credential": None,
            "budget": None,
            "data_labels": _str_list(event.data_labels, "data_labels"),
            "plan": None,
            "spawn": None,
            "tool": dict(event.tool) if event.tool is not None else None,
            "now_ns": time.time_ns(),
        }
        extra = event.extra_input()
        if isinstance(event, PlanProposal):
            steps = []
            for i, step in enumerate(extra["plan"]["steps"]):
                if not isinstance(step["action"], str) or not step["action"]:
                    raise CanonicalizationError(f"plan.steps[{i}].action must be a string")
                sc = canonicalize(
                    step["args"],
                    limits=self.limits,
                    base=self.base_dir,
                    resolve_symlinks=self.resolve_symlinks,
                )
                steps.append(
                    {
                        "action": step["action"],
                        "event_type": step["event_type"],
                        "args": sc.args,
                        "resource": {
                            "paths": list(sc.paths),
                            "hosts": list(sc.hosts),
                            "classification": event.classification,
                        },
                    }
                )
            extra = {"plan": {"steps": steps}}
        elif isinstance(event, ResourceUse):
            requested = canonicalize(event.requested, limits=self.limits).args
            doc["budget"] = {"requested": requested, "remaining": None}
        doc.update(extra)
        return doc, canon.args

    def _from_document(
        self,
        result: EngineResult,
        start: float,
        base: dict[str, Any],
        args: Mapping[str, Any],
        doc: dict[str, Any],
    ) -> Decision:
        d = result.document
        common: dict[str, Any] = dict(
            args=args, input=doc, engine_decision_id=result.decision_id, **base
        )
        if d is None:
            return Decision(
                verdict="deny",
                reasons=("policy decision is undefined (deny by default)",),
                risk_tier="unknown",
                rules=("kitelogik.default_deny",),
                latency=time.perf_counter() - start,
                **common,
            )
        problem = _shape_problem(d)
        if problem:
            return Decision(
                verdict="deny",
                reasons=(f"malformed policy decision: {problem}",),
                risk_tier="unknown",
                rules=("kitelogik.malformed_decision",),
                latency=time.perf_counter() - start,
                **common,
            )
        reasons = tuple(d["reasons"])
        if d["deny"]:
            verdict = "deny"
            if not reasons:
                reasons = ("denied by policy",)
        elif d["requires_hitl"]:
            verdict = "escalate"
        elif d["allow"]:
            verdict = "allow"
        else:
            verdict = "deny"
            if not reasons:
                reasons = (_DEFAULT_DENY,)
        return Decision(
            verdict=verdict,
            reasons=reasons,
            risk_tier=d["risk_tier"],
            rules=tuple(d["rules"]),
            obligations=d["obligations"],
            latency=time.perf_counter() - start,
            **common,
        )


def _shape_problem(d: Any) -> str | None:
    if type(d) is not dict:
        return f"expected an object, got {type(d).__name__}"
    for key in ("allow", "deny", "requires_hitl"):
        if type(d.get(key)) is not bool:
            return f"{key!r} must be a boolean"
    for key in ("reasons", "rules"):
        v = d.get(key)
        if type(v) is not list:
            return f"{key!r} must be a list of strings"
        for x in v:
            if type(x) is not str:
                return f"{key!r} must be a list of strings"
    if type(d.get("risk_tier")) is not str:
        return "'risk_tier' must be a string"
    if type(d.get("obligations")) is not dict:
        return "'obligations' must be an object"
    return None


def _resolve(
    decision: Decision, verdict: str, reason: str | None, approval: Mapping[str, Any] | None
) -> Decision:
    reasons = decision.reasons if reason is None else (*decision.reasons, reason)
    return replace(decision, verdict=verdict, reasons=reasons, approval=approval)


def _key(event_type: str, action: str, args: Mapping[str, Any]) -> str:
    return json.dumps([event_type, action, args], sort_keys=True, separators=(",", ":"))


def _call_key(decision: Decision) -> str:
    return _key(decision.event_type, decision.action, decision.args)


def _resolve_audit(audit: AuditSink | str | None) -> AuditSink | None:
    if audit is None or not isinstance(audit, str):
        return audit
    if audit != "default":
        raise ValueError(f"audit must be an AuditSink, 'default' or None, not {audit!r}")
    try:
        from kitelogik.audit import default_audit_sink  # type: ignore[attr-defined]
    except ImportError:
        return None
    return default_audit_sink()
