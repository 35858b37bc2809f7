"""Framework-agnostic plumbing shared by every ``kitelogik-<framework>`` plugin.

A plugin translates its framework's native hook into the few calls here, so the eleven plugins
share one implementation of the parts that matter for safety:

* building events from a framework call (:func:`tool_call_event`, :func:`delegation_event`,
  :func:`spawn_event`, :func:`parse_arguments`);
* deciding and running a call (:func:`govern` / :func:`agovern`): authorize, then either run the
  framework's own execution path with exactly the decided arguments inside
  :meth:`PolicyGate.invoke` (which sets the nested-enforcement guard, audits the outcome and
  settles the budget) or hand the model a denial text (:func:`denial_message`);
* escalation by interrupt for frameworks that pause and resume a run (LangGraph): the request
  shown to a human (:func:`approval_request`), the answer a run is resumed with
  (:func:`approval_answer`) and its bound resolution (:func:`resolve_approval`);
* the supported-version check at import (:func:`require`) and discovery of installed plugins
  through the ``kitelogik.adapters`` entry-point group (:func:`installed_plugins`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from typing import Any, TypeVar

from kitelogik.canonical import thaw
from kitelogik.decision import Decision
from kitelogik.events import AgentSpawn, Delegation, GovernanceEvent, SessionContext, ToolCall
from kitelogik.gate import PolicyGate
from kitelogik.governed import current_session
from kitelogik.protocols import ApprovalResult, Outcome

__all__ = [
    "ENTRY_POINT_GROUP",
    "ArgumentsError",
    "InstalledPlugin",
    "OpenCall",
    "PendingEscalations",
    "PluginInfo",
    "UnsupportedFramework",
    "agovern",
    "approval_answer",
    "approval_request",
    "aresolve_approval",
    "arun_allowed",
    "begin_allowed",
    "delegation_event",
    "denial_message",
    "govern",
    "installed_plugins",
    "parse_arguments",
    "require",
    "resolve_approval",
    "resolve_context",
    "run_allowed",
    "running_decision",
    "spawn_event",
    "tool_call_event",
]

T = TypeVar("T")

#: The entry-point group every plugin registers in
#: (``[project.entry-points."kitelogik.adapters"]``).
ENTRY_POINT_GROUP = "kitelogik.adapters"

#: Every message a plugin hands to a model starts with this, so a model (and a log reader) can
#: tell a governance refusal from a tool's own error.
PREFIX = "[kitelogik]"

ContextSource = SessionContext | Callable[[], SessionContext] | None


# ---------------------------------------------------------------------------------- events


class ArgumentsError(ValueError):
    """The model's arguments for a call are not a JSON object; the call is refused."""


def resolve_context(context: ContextSource, framework: str) -> SessionContext:
    """The session of a call: ``context`` itself, the result of calling it, or the enclosing
    :func:`kitelogik.session` block; tagged with ``framework``. No session is not an anonymous
    allow: the policy then sees an empty session id and no scopes."""
    if isinstance(context, SessionContext):
        ctx = context
    elif callable(context):
        ctx = context()
    else:
        ctx = current_session() or _NO_SESSION
    if ctx.framework == framework:
        return ctx
    try:
        return _tagged(ctx, framework)  # on the hot path: tag each session once
    except TypeError:  # unhashable scopes (a list): tag without the cache
        return ctx.with_framework(framework)


_NO_SESSION = SessionContext(session_id="")


@functools.lru_cache(maxsize=512)
def _tagged(ctx: SessionContext, framework: str) -> SessionContext:
    return ctx.with_framework(framework)


def parse_arguments(raw: str | bytes | Mapping[str, Any] | None) -> dict[str, Any]:
    """The arguments of a model's tool call as a dict. Frameworks hand them over as a JSON
    string (OpenAI wire format) or as a mapping. Anything but a JSON object raises
    :class:`ArgumentsError` (refuse the call; never guess)."""
    if raw is None or raw == "" or raw == b"":
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise ArgumentsError(f"tool arguments are not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ArgumentsError(f"tool arguments must be a JSON object, not {type(value).__name__}")
    return value


def tool_call_event(
    name: str,
    args: Mapping[str, Any],
    *,
    context: ContextSource = None,
    framework: str,
    tool: Mapping[str, Any] | None = None,
    data_labels: Sequence[str] = (),
) -> ToolCall:
    """The event for a model's call of tool ``name``. ``tool`` holds facts the host registered
    about the tool (``external``, ``risk_tier``, ``labels``), never values from the model."""
    return ToolCall(
        action=name,
        args=args,
        context=resolve_context(context, framework),
        tool=dict(tool) if tool is not None else None,
        data_labels=tuple(data_labels),
    )


def delegation_event(
    target: str,
    args: Mapping[str, Any] | None = None,
    *,
    context: ContextSource = None,
    framework: str,
    child_scopes: Sequence[str] = (),
    target_agent_id: str | None = None,
) -> Delegation:
    """The event for handing work to agent ``target`` (a handoff); the action is the target's
    name."""
    return Delegation(
        action=target,
        args=args or {},
        context=resolve_context(context, framework),
        child_scopes=tuple(child_scopes),
        target_agent_id=target_agent_id or target,
    )


def spawn_event(
    child: str,
    args: Mapping[str, Any] | None = None,
    *,
    context: ContextSource = None,
    framework: str,
    requested_capabilities: Sequence[str] = (),
    parent_capabilities: Sequence[str] | None = None,
) -> AgentSpawn:
    """The event for starting child agent ``child`` (agent-as-tool, sub-graph). The parent's
    capabilities default to the session's scopes."""
    ctx = resolve_context(context, framework)
    parent = (
        tuple(ctx.session_scopes) if parent_capabilities is None else tuple(parent_capabilities)
    )
    return AgentSpawn(
        action=child,
        args=args or {},
        context=ctx,
        requested_capabilities=tuple(requested_capabilities),
        parent_capabilities=parent,
    )


# ---------------------------------------------------------------------------------- deciding


def denial_message(decision: Decision) -> str:
    """What the model receives in place of a refused call's result."""
    what = decision.action or "call"
    return f"{PREFIX} DENIED {what}: {decision.reason} (decision {decision.id})"


def error_message(name: str, error: BaseException | str) -> str:
    """What the model receives for a call refused before a decision could be made (e.g. its
    arguments are not a JSON object)."""
    return f"{PREFIX} DENIED {name}: {error}"


def govern(
    gate: PolicyGate,
    event: GovernanceEvent,
    run: Callable[[dict[str, Any]], T],
    deny: Callable[[str, Decision], T],
) -> T:
    """Decide ``event`` and act on the final verdict (sync path).

    Allowed: ``run(decided_args)`` is called inside :meth:`PolicyGate.invoke`, so it receives a
    fresh copy of exactly the decided arguments, a nested enforcement point reuses this decision
    instead of deciding again, and the outcome is audited. Otherwise ``deny(message, decision)``
    is returned; the call never runs. Escalations wait for the gate's approver (no approver is a
    deny)."""
    decision = gate.authorize(event)
    if not decision.allowed:
        return deny(denial_message(decision), decision)
    return gate.invoke(decision, lambda **decided: run(decided))


async def agovern(
    gate: PolicyGate,
    event: GovernanceEvent,
    run: Callable[[dict[str, Any]], Awaitable[T]],
    deny: Callable[[str, Decision], T],
) -> T:
    """The async path of :func:`govern`: same semantics, awaits the gate and ``run``."""
    decision = await gate.aauthorize(event)
    if not decision.allowed:
        return deny(denial_message(decision), decision)

    async def call(**decided: Any) -> T:
        return await run(decided)

    return await gate.ainvoke(decision, call)


def run_allowed(gate: PolicyGate, decision: Decision, run: Callable[[dict[str, Any]], T]) -> T:
    """Run an allowed (or approved) decision's call with its decided arguments."""
    return gate.invoke(decision, lambda **decided: run(decided))


async def arun_allowed(
    gate: PolicyGate, decision: Decision, run: Callable[[dict[str, Any]], Awaitable[T]]
) -> T:
    async def call(**decided: Any) -> T:
        return await run(decided)

    return await gate.ainvoke(decision, call)


class OpenCall:
    """An allowed call running between a framework's separate before- and after-hook (the
    framework runs the tool itself, after the before-hook returns). :func:`begin_allowed`
    opens it in the before-hook, :meth:`finish` closes it in the after-hook.

    Between the two, a nested enforcement point in the same context (a tool body that is itself
    ``@governed``) reuses this decision, exactly as inside :meth:`PolicyGate.invoke`; finishing
    audits the outcome once and settles the budget. Frameworks that run the tool in another
    context than the hook lose only the nested reuse (the nested point then decides again)."""

    __slots__ = ("_done", "_lock", "_token", "decision", "gate")

    def __init__(self, gate: PolicyGate, decision: Decision) -> None:
        from kitelogik.gate import _RUNNING, _call_key

        self.gate = gate
        self.decision = decision
        self._done = False
        self._lock = threading.Lock()
        running = _RUNNING.get()
        if running is not None and running[1].id == decision.id:
            self._token = None  # nested inside the very same call: the outer one audits
            self._done = True
        else:
            self._token = _RUNNING.set((_call_key(decision), decision))

    def _close(self) -> bool:
        from kitelogik.gate import _RUNNING

        with self._lock:
            if self._done:
                return False
            self._done = True
        if self._token is not None:
            # Finished from another context (ValueError): leave that context alone.
            with contextlib.suppress(ValueError):
                _RUNNING.reset(self._token)
        return True

    def finish(self, outcome: Outcome = "ran", error: str | None = None) -> None:
        """Audit the outcome (``ran``, ``failed`` or ``skipped``) once; later calls are no-ops."""
        if self._close():
            self.gate.record_outcome(self.decision, outcome, error)

    async def afinish(self, outcome: Outcome = "ran", error: str | None = None) -> None:
        if self._close():
            await self.gate.arecord_outcome(self.decision, outcome, error)


def running_decision() -> Decision | None:
    """The decision whose call is running in this context (inside :meth:`PolicyGate.invoke` /
    ``ainvoke`` or an :class:`OpenCall`), if any. A second hook of the same framework on the
    same call can skip deciding again when its call is exactly this one."""
    from kitelogik.gate import _RUNNING

    running = _RUNNING.get()
    return running[1] if running is not None else None


def begin_allowed(gate: PolicyGate, decision: Decision) -> OpenCall:
    """Open an allowed (or approved) decision's call for a framework that runs the tool itself
    between a before- and an after-hook; see :class:`OpenCall`. Raises
    :class:`~kitelogik.decision.GovernanceError` if the decision does not allow the call."""
    from kitelogik.decision import GovernanceError

    if not decision.allowed:
        raise GovernanceError(decision)
    return OpenCall(gate, decision)


# ---------------------------------------------------------------------------------- escalation


def approval_request(decision: Decision, *, call_id: str | None = None) -> dict[str, Any]:
    """What a human is shown for an escalated decision (the payload of a framework interrupt).
    ``binding_digest`` is what a valid answer must carry back."""
    return {
        "kitelogik": "approval_request",
        "decision_id": decision.id,
        "binding_digest": decision.binding_digest,
        "event_type": decision.event_type,
        "action": decision.action,
        "args": thaw(decision.args),
        "session_id": decision.session_id,
        "reasons": list(decision.reasons),
        "risk_tier": decision.risk_tier,
        "call_id": call_id,
    }


def approval_answer(result: ApprovalResult) -> dict[str, Any]:
    """The value a paused run is resumed with (e.g. ``Command(resume=approval_answer(r))``)."""
    return {
        "kitelogik": "approval_answer",
        "approved": bool(result.approved),
        "reason": result.reason,
        "approvers": list(result.approvers),
        "request_id": result.request_id,
        "digest": result.digest,
        "status": result.status or ("approved" if result.approved else "denied"),
    }


def _as_result(answer: Any) -> ApprovalResult:
    if isinstance(answer, ApprovalResult):
        return answer
    if isinstance(answer, Mapping) and answer.get("kitelogik") == "approval_answer":
        approvers = answer.get("approvers") or ()
        return ApprovalResult(
            approved=answer.get("approved") is True,
            reason=str(answer.get("reason") or ""),
            approvers=tuple(str(a) for a in approvers) if isinstance(approvers, list) else (),
            request_id=answer.get("request_id")
            if isinstance(answer.get("request_id"), str)
            else None,
            digest=answer.get("digest") if isinstance(answer.get("digest"), str) else None,
            status=str(answer.get("status") or ""),
        )
    # A bare True / "approve" is not bound to the call: it can never approve it.
    return ApprovalResult(
        False, "malformed approval answer (expected approval_answer(...))", status="error"
    )


def _resolved(decision: Decision, answer: Any) -> Decision:
    result = _as_result(answer)
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
        return replace(decision, verdict="allow", approval=approval)
    return replace(
        decision,
        verdict="deny",
        approval=approval,
        reasons=(*decision.reasons, f"human approval not granted: {result.reason}"),
    )


def resolve_approval(gate: PolicyGate, decision: Decision, answer: Any) -> Decision:
    """Resolve an escalated ``decision`` with a human's ``answer`` (an :class:`ApprovalResult` or
    :func:`approval_answer` mapping). It allows only when the answer approves and carries this
    exact decision's binding digest; anything else (a bare ``True``, a digest of another call)
    is a deny whose reason says why. A denial is recorded as the ``skipped`` outcome, which also
    releases a budget hold. The same rule as :meth:`PolicyGate.authorize` with an approver."""
    if decision.verdict != "escalate":
        return decision
    resolved = _resolved(decision, answer)
    if not resolved.allowed:
        gate.record_outcome(resolved, "skipped", resolved.reason)
    return resolved


async def aresolve_approval(gate: PolicyGate, decision: Decision, answer: Any) -> Decision:
    """:func:`resolve_approval` with the outcome recorded through the async path."""
    if decision.verdict != "escalate":
        return decision
    resolved = _resolved(decision, answer)
    if not resolved.allowed:
        await gate.arecord_outcome(resolved, "skipped", resolved.reason)
    return resolved


@dataclass
class PendingEscalations:
    """Escalated decisions waiting for a resume, keyed by (run, call id).

    Frameworks that pause with an interrupt replay the tool step on resume; looking the decision
    up here keeps one decision (and one audit record) per call. An entry is only reused for the
    very same action and arguments, and is removed once resolved. Process-local: after a restart
    the call is decided again, and an answer bound to the old decision is refused."""

    _items: dict[tuple[str, str], tuple[str, Decision]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def _fingerprint(event: GovernanceEvent) -> str:
        return json.dumps(
            [event.event_type, event.action, thaw(event.args)], sort_keys=True, default=repr
        )

    def get(self, run_id: str, call_id: str, event: GovernanceEvent) -> Decision | None:
        with self._lock:
            item = self._items.get((run_id, call_id))
        if item is None or item[0] != self._fingerprint(event):
            return None
        return item[1]

    def put(self, run_id: str, call_id: str, event: GovernanceEvent, decision: Decision) -> None:
        with self._lock:
            self._items[(run_id, call_id)] = (self._fingerprint(event), decision)

    def pop(self, run_id: str, call_id: str) -> None:
        with self._lock:
            self._items.pop((run_id, call_id), None)

    def __len__(self) -> int:
        return len(self._items)


# ---------------------------------------------------------------------------------- versions


class UnsupportedFramework(ImportError):
    """The installed framework is outside the plugin's supported range (or missing)."""

    def __init__(self, plugin: str, requirement: str, installed: str | None) -> None:
        self.plugin = plugin
        self.requirement = requirement
        self.installed = installed
        have = f"{installed} is installed" if installed else "it is not installed"
        super().__init__(
            f"{plugin} supports {requirement}, but {have}. "
            f"Fix: pip install '{requirement}' (or a {plugin} release that supports your version)."
        )


_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version_of(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def declared_requirements(plugin_dist: str) -> list[str]:
    """The plugin's unconditional, non-kitelogik requirements from its installed metadata: the
    supported framework range, declared once in the plugin's ``pyproject.toml``."""
    try:
        reqs = metadata.requires(plugin_dist) or []
    except metadata.PackageNotFoundError:
        return []
    out = []
    for req in reqs:
        if ";" in req and "extra" in req.split(";", 1)[1]:
            continue
        m = _NAME.match(req)
        if m and not _normalize(m.group(1)).startswith("kitelogik"):
            out.append(req.split(";", 1)[0].strip())
    return out


def requirement_for(plugin_dist: str, framework_dist: str) -> str | None:
    for req in declared_requirements(plugin_dist):
        m = _NAME.match(req)
        if m and _normalize(m.group(1)) == _normalize(framework_dist):
            return req
    return None


def satisfies(requirement: str, version: str | None) -> bool:
    """Whether ``version`` satisfies the specifier of ``requirement`` (PEP 440)."""
    if version is None:
        return False
    from packaging.requirements import Requirement
    from packaging.version import InvalidVersion, Version

    try:
        return Requirement(requirement).specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def require(plugin_dist: str, framework_dist: str) -> str:
    """Check at import that the installed ``framework_dist`` is in the range ``plugin_dist``
    declares (its ``pyproject.toml`` dependency); raise :class:`UnsupportedFramework` with the
    fix otherwise. Returns the installed framework version.

    The range is read from the plugin's installed metadata, so it is declared exactly once. A
    plugin imported from a source tree without metadata is not checked."""
    installed = _version_of(framework_dist)
    requirement = requirement_for(plugin_dist, framework_dist)
    if requirement is None:
        if installed is None:
            raise UnsupportedFramework(plugin_dist, framework_dist, None)
        return installed
    if not satisfies(requirement, installed):
        raise UnsupportedFramework(plugin_dist, requirement, installed)
    return installed or ""


# ---------------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class PluginInfo:
    """What a plugin's entry point (group ``kitelogik.adapters``) points to."""

    name: str  # e.g. "langchain"
    distribution: str  # e.g. "kitelogik-langchain"
    framework: str  # the framework's distribution, e.g. "langchain"
    adapter: Any = None  # the plugin's main object (middleware class, tool node factory ...)
    hooks: tuple[str, ...] = ()  # the native hooks it uses, for `kitelogik doctor`


@dataclass(frozen=True)
class InstalledPlugin:
    name: str
    distribution: str | None
    version: str | None
    requirements: tuple[tuple[str, str | None, bool], ...]  # (requirement, installed, ok)
    entry_point: str
    error: str | None  # why importing the plugin failed, if it did
    info: PluginInfo | None

    @property
    def supported(self) -> bool:
        return self.error is None and all(ok for _, _, ok in self.requirements)


def installed_plugins(*, load: bool = True) -> list[InstalledPlugin]:
    """Every installed plugin: its declared framework ranges, the installed framework versions
    and whether they match. With ``load`` the entry point is imported too (which runs the
    plugin's own version check); an import failure is reported, never raised."""
    out = []
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist is not None else None
        version = ep.dist.version if ep.dist is not None else None
        reqs = []
        for req in declared_requirements(dist) if dist else []:
            m = _NAME.match(req)
            have = _version_of(m.group(1)) if m else None
            reqs.append((req, have, satisfies(req, have)))
        error = None
        info = None
        if load:
            try:
                obj = ep.load()
            except Exception as exc:  # noqa: BLE001 - report, never crash the listing
                error = f"{type(exc).__name__}: {exc}"
            else:
                info = obj if isinstance(obj, PluginInfo) else None
        out.append(InstalledPlugin(ep.name, dist, version, tuple(reqs), ep.value, error, info))
    return out
