"""Policy before every tool call, delegation and (optionally) task step of a CrewAI crew.

The native hooks are CrewAI's interception points (``crewai.hooks``):

* ``PRE_TOOL_CALL`` decides the call. Allowed: the tool input is set to exactly the decided
  arguments (CrewAI runs the tool with that very dict) and the call is opened as running, so a
  nested enforcement point in the tool reuses the decision. Refused: the hook raises
  ``HookAborted``, the only way to stop a tool in CrewAI.
* ``POST_TOOL_CALL`` (it also runs for blocked calls) replaces CrewAI's generic
  ``Tool execution blocked by hook`` with the denial reason, so the model sees why, and audits
  an allowed call's outcome.
* ``PRE_STEP`` (``steps=True``) decides each task (and flow method) before it starts, as a
  one-step ``plan`` event; a refusal aborts the kickoff with ``HookAborted``.

CrewAI swallows every exception from a hook other than ``HookAborted`` and then runs the tool
anyway (fail-open). So nothing may escape these hooks: every internal error (an engine that
fails, a broken session source, a bug) becomes a refusal.

Delegation is a tool call in CrewAI: ``delegate_work_to_coworker`` and
``ask_question_to_coworker`` are decided as ``agent.delegate``, the action being the coworker's
role as CrewAI matches it (whitespace normalized, quotes removed, case folded).

Hooks are process-global in CrewAI. Registration is explicit and reversible:
``register()`` / ``unregister()``, ``with hooks.installed():`` (global, for the block), or
``with hooks.scoped():`` (only crews run in this execution context, e.g. this thread or task).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from crewai.hooks import HookAborted, InterceptionPoint
from crewai.hooks.dispatch import register, register_scoped, scoped_hooks, unregister
from kitelogik import adapters
from kitelogik.adapters import ContextSource, OpenCall
from kitelogik.canonical import thaw
from kitelogik.events import GovernanceEvent, PlanProposal, PlanStep, SessionContext
from kitelogik.gate import PolicyGate

__all__ = ["DELEGATION_TOOLS", "KitelogikHooks"]

FRAMEWORK = "crewai"
#: CrewAI's delegation tools (``allow_delegation=True``), decided as ``agent.delegate``.
DELEGATION_TOOLS = frozenset({"delegate_work_to_coworker", "ask_question_to_coworker"})
_BLOCKED = "Tool execution blocked by hook"
_FAILED = "Error executing tool"


class KitelogikHooks:
    """CrewAI hooks that decide every tool call (and delegation) before it runs.

    ``KitelogikHooks(gate, context=session, tools={"refund": {"risk_tier": ...}}, steps=False)``

    ``context``: the session (a :class:`~kitelogik.SessionContext`, a callable returning one, or
    ``None`` for the enclosing :func:`kitelogik.session`); a session without ``agent_id`` gets the
    calling CrewAI agent's role. ``tools``: facts about tools for the policy, never from the
    model. ``steps``: also decide each task before it starts (``PRE_STEP``).
    """

    def __init__(
        self,
        gate: PolicyGate | None = None,
        *,
        context: ContextSource = None,
        tools: Mapping[str, Mapping[str, Any]] | None = None,
        steps: bool = False,
    ) -> None:
        if gate is None:
            from kitelogik.governed import _default_gate

            gate = _default_gate()
        self.gate = gate
        self.context = context
        self.tool_facts = {k: dict(v) for k, v in (tools or {}).items()}
        self.steps = steps
        # Per call in flight, keyed by the tool-input dict CrewAI hands to both hooks (kept
        # alive here, so its id cannot be reused while the entry exists).
        self._denied: dict[int, tuple[Any, str]] = {}
        self._open: dict[int, tuple[Any, OpenCall]] = {}
        self._lock = threading.Lock()
        self._registered = False

    # ------------------------------------------------------------------ registration

    def _points(self) -> list[tuple[InterceptionPoint, Any]]:
        points = [
            (InterceptionPoint.PRE_TOOL_CALL, self.before_tool_call),
            (InterceptionPoint.POST_TOOL_CALL, self.after_tool_call),
        ]
        if self.steps:
            points.append((InterceptionPoint.PRE_STEP, self.before_step))
        return points

    def register(self) -> KitelogikHooks:
        """Register globally (every crew in the process). Registered last, so the decision is
        made after earlier hooks changed the tool input. Idempotent."""
        with self._lock:
            if not self._registered:
                for point, hook in self._points():
                    register(point, hook)
                self._registered = True
        return self

    def unregister(self) -> None:
        """Remove the global registration; a no-op if not registered."""
        with self._lock:
            for point, hook in self._points():
                while unregister(point, hook):
                    pass
            self._registered = False

    @property
    def registered(self) -> bool:
        return self._registered

    @contextmanager
    def installed(self) -> Iterator[KitelogikHooks]:
        """Registered globally for the block, removed afterwards (even on error)."""
        self.register()
        try:
            yield self
        finally:
            self.unregister()

    @contextmanager
    def scoped(self) -> Iterator[KitelogikHooks]:
        """Registered only for crews run in this execution context (CrewAI's scoped hooks: this
        thread or task, and what it starts), for the block. Scoped hooks run after global ones."""
        with scoped_hooks():
            for point, hook in self._points():
                register_scoped(point, hook)
            yield self

    # ------------------------------------------------------------------ events

    def _session(self, ctx: Any) -> SessionContext:
        session = adapters.resolve_context(self.context, FRAMEWORK)
        role = getattr(getattr(ctx, "agent", None), "role", None)
        if session.agent_id is None and isinstance(role, str) and role:
            session = SessionContext(
                session_id=session.session_id,
                agent_id=role,
                parent_agent_id=session.parent_agent_id,
                user_role=session.user_role,
                session_scopes=session.session_scopes,
                delegation_depth=session.delegation_depth,
                token=session.token,
                framework=FRAMEWORK,
            )
        return session

    def event(self, ctx: Any) -> GovernanceEvent:
        """The governance event for the tool call in hook context ``ctx``."""
        name = str(ctx.tool_name)
        raw = ctx.tool_input
        if not isinstance(raw, dict):
            raise adapters.ArgumentsError("tool input is not a JSON object")
        args = dict(raw)
        session = self._session(ctx)
        if name in DELEGATION_TOOLS:
            target = coworker_name(args)
            if not target:
                raise adapters.ArgumentsError("no coworker named")
            return adapters.delegation_event(target, args, context=session, framework=FRAMEWORK)
        return adapters.tool_call_event(
            name, args, context=session, framework=FRAMEWORK, tool=self.tool_facts.get(name)
        )

    # ------------------------------------------------------------------ the hooks

    def before_tool_call(self, ctx: Any) -> None:
        """``PRE_TOOL_CALL``: decide; refuse with ``HookAborted``. Never raises anything else."""
        refusal: str | None = None
        try:
            event = self.event(ctx)
            decision = self.gate.authorize(event)  # an escalation waits for the approver here
            if decision.allowed:
                decided = thaw(decision.args)
                # Bind: CrewAI runs the tool with this very dict.
                ctx.tool_input.clear()
                ctx.tool_input.update(decided)
                call = adapters.begin_allowed(self.gate, decision)
                with self._lock:
                    self._open[id(ctx.tool_input)] = (ctx.tool_input, call)
                return
            refusal = adapters.denial_message(decision)
        except Exception as exc:  # noqa: BLE001 - CrewAI would swallow it and run the tool
            refusal = adapters.error_message(_tool_name(ctx), exc)
        try:
            with self._lock:
                self._denied[id(ctx.tool_input)] = (ctx.tool_input, refusal)
        except Exception:  # noqa: BLE001, S110 - the refusal below still stands
            pass
        raise HookAborted(reason=refusal, source="kitelogik")

    def after_tool_call(self, ctx: Any) -> str | None:
        """``POST_TOOL_CALL``: the model sees the refusal reason; an allowed call's outcome is
        audited. Returns the replacement result, or ``None`` to keep it."""
        try:
            key = id(ctx.tool_input)
            with self._lock:
                denied = self._denied.pop(key, None)
                opened = self._open.pop(key, None)
            if denied is not None and denied[0] is ctx.tool_input:
                return denied[1]
            if opened is not None and opened[0] is ctx.tool_input:
                result = ctx.tool_result
                text = result if isinstance(result, str) else ""
                if text.startswith(_BLOCKED):  # a later hook blocked it: it never ran
                    opened[1].finish("skipped", "blocked by another CrewAI hook")
                elif dict(ctx.tool_input) != thaw(opened[1].decision.args):
                    # A hook that ran after the decision changed the input: the tool ran with
                    # arguments nobody decided on. Audited as such (register Kite Logik last).
                    opened[1].finish(
                        "failed", f"tool input changed after the decision: {dict(ctx.tool_input)!r}"
                    )
                elif text.startswith(_FAILED):
                    opened[1].finish("failed", text)
                else:
                    opened[1].finish("ran")
        except Exception:  # noqa: BLE001, S110 - never break CrewAI's tool path
            pass
        return None

    def before_step(self, ctx: Any) -> None:
        """``PRE_STEP`` (``steps=True``): decide a task or flow method before it starts, as a
        one-step ``plan`` event (action: the step's name). A refusal raises ``HookAborted``,
        which aborts the kickoff."""
        try:
            event = self.step_event(ctx)
            decision = self.gate.authorize(event)
            if decision.allowed:
                self.gate.record_outcome(decision, "ran")
                return
            refusal = adapters.denial_message(decision)
        except Exception as exc:  # noqa: BLE001
            refusal = adapters.error_message("step", exc)
        raise HookAborted(reason=refusal, source="kitelogik")

    def step_event(self, ctx: Any) -> GovernanceEvent:
        kind = str(getattr(ctx, "kind", None) or "task")
        name = str(getattr(ctx, "step_name", None) or "")
        task = getattr(ctx, "task", None)
        args: dict[str, Any] = {"kind": kind, "agent": getattr(ctx, "agent_role", None)}
        description = getattr(task, "description", None)
        if isinstance(description, str):
            args["description"] = description
        return PlanProposal(
            action=name,
            args=args,
            context=self._session(ctx),
            steps=(PlanStep(action=name, args=args, event_type=kind),),
        )


def coworker_name(args: Mapping[str, Any]) -> str:
    """The coworker a delegation tool names, normalized exactly as CrewAI matches agent roles
    (first of a ``[a, b]`` list, whitespace collapsed, quotes removed, case folded), so a policy
    cannot be dodged by spelling a role differently."""
    raw = args.get("coworker") or args.get("co_worker") or ""
    if not isinstance(raw, str):
        return ""
    if raw.startswith("[") and raw.endswith("]"):
        raw = raw[1:-1].split(",")[0]
    return " ".join(raw.split()).replace('"', "").casefold()


def _tool_name(ctx: Any) -> str:
    try:
        return str(ctx.tool_name)
    except Exception:  # noqa: BLE001
        return "tool"
