"""Enforcement points for plain Python: the ``@governed`` decorator and :class:`GovernedToolbox`.

Both go through :meth:`PolicyGate.run` / :meth:`PolicyGate.arun`, so a call is decided, audited,
escalated and run with its frozen arguments exactly as the framework plugins do it.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar, overload

from kitelogik.decision import Decision, GovernanceError
from kitelogik.events import SessionContext, ToolCall
from kitelogik.gate import PolicyGate

__all__ = ["GovernedToolbox", "ToolResult", "current_session", "governed", "session"]

P = ParamSpec("P")
R = TypeVar("R")

_SESSION: contextvars.ContextVar[SessionContext | None] = contextvars.ContextVar(
    "kitelogik_session", default=None
)
_DEFAULT_GATE: list[PolicyGate] = []


@contextmanager
def session(context: SessionContext) -> Iterator[SessionContext]:
    """Make ``context`` the session of every governed call in this block (and the tasks and
    threads started from it with context propagation)."""
    token = _SESSION.set(context)
    try:
        yield context
    finally:
        _SESSION.reset(token)


def current_session() -> SessionContext | None:
    return _SESSION.get()


def _default_gate() -> PolicyGate:
    if not _DEFAULT_GATE:
        _DEFAULT_GATE.append(PolicyGate())
    return _DEFAULT_GATE[0]


def _context(context: SessionContext | Callable[[], SessionContext] | None) -> SessionContext:
    if isinstance(context, SessionContext):
        return context
    if callable(context):
        return context()
    ctx = _SESSION.get()
    if ctx is None:
        # No session is not an anonymous allow: the policy sees an empty session and no scopes.
        return SessionContext(session_id="")
    return ctx


class _Signature:
    """Maps a call's positional/keyword arguments to one ``args`` mapping and back, so the
    function is invoked with exactly the mapping that was decided on."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.sig = inspect.signature(fn)
        self.params = list(self.sig.parameters.values())

    def to_args(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        bound = self.sig.bind(*args, **kwargs)
        bound.apply_defaults()
        out: dict[str, Any] = {}
        for p in self.params:
            value = bound.arguments.get(p.name)
            if p.kind is p.VAR_KEYWORD:
                out.update(value or {})
            elif p.kind is p.VAR_POSITIONAL:
                out[p.name] = list(value or ())
            else:
                out[p.name] = value
        return out

    def call(self, fn: Callable[..., R], decided: Mapping[str, Any]) -> R:
        pos: list[Any] = []
        kw: dict[str, Any] = {}
        # Parameters before a *args must be passed by position.
        has_varpos = any(p.kind is p.VAR_POSITIONAL for p in self.params)
        named = {p.name for p in self.params}
        for p in self.params:
            if p.kind is p.POSITIONAL_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and has_varpos):
                pos.append(decided[p.name])
            elif p.kind is p.VAR_POSITIONAL:
                pos.extend(decided.get(p.name, ()))
            elif p.kind is p.VAR_KEYWORD:
                kw.update({k: v for k, v in decided.items() if k not in named})
            elif p.name in decided:
                kw[p.name] = decided[p.name]
        return fn(*pos, **kw)


@overload
def governed(fn: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def governed(
    *,
    gate: PolicyGate | None = None,
    context: SessionContext | Callable[[], SessionContext] | None = None,
    action: str | None = None,
    tool: Mapping[str, Any] | None = None,
    data_labels: Sequence[str] = (),
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def governed(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    gate: PolicyGate | None = None,
    context: SessionContext | Callable[[], SessionContext] | None = None,
    action: str | None = None,
    tool: Mapping[str, Any] | None = None,
    data_labels: Sequence[str] = (),
) -> Any:
    """Decide every call of a function (sync or ``async def``) before it runs.

    The action name is the function's name unless ``action`` is given; the arguments are the
    bound call arguments (defaults included). The session comes from ``context`` or from the
    enclosing :func:`session` block. A call that is not allowed raises
    :class:`GovernanceError` and the function body never runs.
    """

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        sig = _Signature(func)
        name = action or func.__name__
        tool_facts = dict(tool) if tool is not None else None

        def event(args: tuple[Any, ...], kwargs: dict[str, Any]) -> ToolCall:
            return ToolCall(
                action=name,
                args=sig.to_args(args, kwargs),
                context=_context(context),
                tool=tool_facts,
                data_labels=tuple(data_labels),
            )

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                g = gate or _default_gate()

                async def invoke(**decided: Any) -> Any:
                    return await sig.call(func, decided)

                return await g.arun(event(args, kwargs), invoke)

            return async_wrapper

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g = gate or _default_gate()
            return g.run(event(args, kwargs), lambda **decided: sig.call(func, decided))

        return wrapper

    return wrap(fn) if fn is not None else wrap


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The outcome of one governed tool call in a batch. Exactly one of ``value`` (``ok``) or
    ``error`` is meaningful; ``decision`` says what the policy decided."""

    name: str
    ok: bool
    decision: Decision
    value: Any = None
    error: str | None = None


@dataclass
class _Tool:
    name: str
    fn: Callable[..., Any]
    description: str
    facts: dict[str, Any] | None
    sig: _Signature = field(init=False)
    is_async: bool = field(init=False)

    def __post_init__(self) -> None:
        self.sig = _Signature(self.fn)
        self.is_async = inspect.iscoroutinefunction(self.fn)


class GovernedToolbox:
    """A registry of tools whose every call is decided by the gate.

    >>> box = GovernedToolbox(gate, context=ctx)
    >>> @box.tool
    ... def lookup_customer(customer_id: str) -> dict: ...
    >>> results = box.execute_batch([("lookup_customer", {"customer_id": "c1"})])
    """

    def __init__(
        self,
        gate: PolicyGate | None = None,
        *,
        context: SessionContext | Callable[[], SessionContext] | None = None,
    ) -> None:
        self.gate = gate or _default_gate()
        self.context = context
        self._tools: dict[str, _Tool] = {}

    def register(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        tool: Mapping[str, Any] | None = None,
    ) -> Callable[..., Any]:
        """Register ``fn``; ``tool`` holds facts for the policy (``external``, ``risk_tier``,
        ``labels``). Returns ``fn`` unchanged so it can be used as a decorator."""
        tool_name = name or fn.__name__
        if tool_name in self._tools:
            raise ValueError(f"a tool named {tool_name!r} is already registered")
        self._tools[tool_name] = _Tool(
            tool_name,
            fn,
            description or inspect.getdoc(fn) or "",
            dict(tool) if tool is not None else None,
        )
        return fn

    def tool(self, fn: Callable[..., R]) -> Callable[..., R]:
        self.register(fn)
        return fn

    def tools(self) -> list[dict[str, Any]]:
        """Name, description and parameter names of every registered tool."""
        return [
            {
                "name": t.name,
                "description": t.description,
                "parameters": [p.name for p in t.sig.params],
                "tool": t.facts,
            }
            for t in self._tools.values()
        ]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def _event(self, name: str, args: Mapping[str, Any]) -> ToolCall:
        t = self._tools.get(name)
        return ToolCall(
            action=name, args=args, context=_context(self.context), tool=t.facts if t else None
        )

    def execute(self, name: str, args: Mapping[str, Any] | None = None) -> ToolResult:
        """Decide and (if allowed) run one call. Never raises for a denied or failing call:
        the result says what happened, ready to hand back to a model."""
        t = self._tools.get(name)
        if t is not None and t.is_async:
            raise TypeError(f"tool {name!r} is async: use aexecute")
        decision = self.gate.authorize(self._event(name, args or {}))
        if not decision.allowed:
            return ToolResult(name, False, decision, error=decision.reason)
        if t is None:
            self.gate.record_outcome(decision, "skipped", "no such tool")
            return ToolResult(name, False, decision, error=f"no tool named {name!r}")
        try:
            value = self.gate.invoke(decision, lambda **a: t.sig.call(t.fn, a))
        except Exception as exc:  # noqa: BLE001 - a failing tool is a result for the model
            return ToolResult(name, False, decision, error=f"{type(exc).__name__}: {exc}")
        return ToolResult(name, True, decision, value=value)

    async def aexecute(self, name: str, args: Mapping[str, Any] | None = None) -> ToolResult:
        t = self._tools.get(name)
        decision = await self.gate.aauthorize(self._event(name, args or {}))
        if not decision.allowed:
            return ToolResult(name, False, decision, error=decision.reason)
        if t is None:
            await self.gate.arecord_outcome(decision, "skipped", "no such tool")
            return ToolResult(name, False, decision, error=f"no tool named {name!r}")

        async def call(**a: Any) -> Any:
            result = t.sig.call(t.fn, a)
            return await result if t.is_async else result

        try:
            value = await self.gate.ainvoke(decision, call)
        except Exception as exc:  # noqa: BLE001 - a failing tool is a result for the model
            return ToolResult(name, False, decision, error=f"{type(exc).__name__}: {exc}")
        return ToolResult(name, True, decision, value=value)

    def execute_batch(
        self, calls: Iterable[tuple[str, Mapping[str, Any]] | Mapping[str, Any]]
    ) -> list[ToolResult]:
        """Decide each call on its own (one denied call does not stop the others) and return
        the results in order. Calls are ``(name, args)`` pairs or ``{"name", "args"}`` maps."""
        return [self.execute(*_unpack(c)) for c in calls]

    async def aexecute_batch(
        self, calls: Iterable[tuple[str, Mapping[str, Any]] | Mapping[str, Any]]
    ) -> list[ToolResult]:
        return [await self.aexecute(*_unpack(c)) for c in calls]


def _unpack(call: tuple[str, Mapping[str, Any]] | Mapping[str, Any]) -> tuple[str, Any]:
    if isinstance(call, Mapping):
        return call["name"], call.get("args") or {}
    name, args = call
    return name, args


def raise_for(result: ToolResult) -> Any:
    """The value of a successful result, or :class:`GovernanceError` for a refused one."""
    if result.ok:
        return result.value
    if not result.decision.allowed:
        raise GovernanceError(result.decision)
    raise RuntimeError(result.error)
