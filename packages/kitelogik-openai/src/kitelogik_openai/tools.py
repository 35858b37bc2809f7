"""Governed tool calling for the plain OpenAI SDK (Chat Completions and Responses).

The SDK has no agent loop, so there is no hook to attach to: the integration point is the step
where a program turns the model's ``tool_calls`` (or ``function_call`` items) into tool results.
:class:`GovernedTools` does that step: every call is decided by the gate first, an allowed call
runs with exactly the decided arguments, and a refused call becomes a tool result carrying the
reason, so the model sees why.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from kitelogik import adapters
from kitelogik.adapters import ContextSource
from kitelogik.decision import Decision
from kitelogik.gate import PolicyGate

__all__ = ["GovernedTools", "function_schema"]

FRAMEWORK = "openai"


def function_schema(fn: Callable[..., Any]) -> dict[str, Any]:
    """The JSON schema of ``fn``'s parameters, from its signature and type hints (pydantic)."""
    import pydantic

    sig = inspect.signature(fn)
    try:
        hints = get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to Any
        hints = {}
    fields: dict[str, Any] = {}
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (hints.get(p.name, Any), default)
    model = pydantic.create_model(f"{fn.__name__}_arguments", **fields)
    schema = model.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    schema.setdefault("required", [])
    return schema


@dataclass
class _Registered:
    name: str
    fn: Callable[..., Any]
    description: str
    parameters: dict[str, Any]
    facts: dict[str, Any] | None
    is_async: bool = field(init=False)

    def __post_init__(self) -> None:
        self.is_async = inspect.iscoroutinefunction(self.fn)


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return str(value)


class GovernedTools:
    """Python functions exposed to an OpenAI model as tools, executed only as policy allows.

    >>> tools = GovernedTools(gate)
    >>> @tools.register
    ... def lookup(key: str) -> str: ...
    >>> r = client.chat.completions.create(model=m, messages=msgs, tools=tools.chat_tools())
    >>> msgs += [r.choices[0].message, *tools.execute(r)]

    Escalations wait for the gate's approver (without one they are denied): the SDK has no way
    to pause a run, so keep the approver's timeout short or run the loop in a worker.
    """

    def __init__(
        self,
        gate: PolicyGate | None = None,
        *,
        context: ContextSource = None,
        strict: bool = False,
    ) -> None:
        if gate is None:
            from kitelogik.governed import _default_gate

            gate = _default_gate()
        self.gate = gate
        self.context = context
        self.strict = strict
        self._tools: dict[str, _Registered] = {}

    # ------------------------------------------------------------------ registry

    def register(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        tool: Mapping[str, Any] | None = None,
    ) -> Any:
        """Register ``fn`` (usable as ``@tools.register`` or ``@tools.register(name=...)``).
        ``tool`` holds facts about it for the policy (``external``, ``risk_tier``, ``labels``)."""

        def add(f: Callable[..., Any]) -> Callable[..., Any]:
            tool_name = name or f.__name__
            if tool_name in self._tools:
                raise ValueError(f"a tool named {tool_name!r} is already registered")
            params = dict(parameters) if parameters is not None else function_schema(f)
            doc = description if description is not None else (inspect.getdoc(f) or "")
            self._tools[tool_name] = _Registered(
                tool_name, f, doc, params, dict(tool) if tool is not None else None
            )
            return f

        return add(fn) if fn is not None else add

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def chat_tools(self) -> list[dict[str, Any]]:
        """The ``tools=`` parameter of ``chat.completions.create``."""
        out = []
        for t in self._tools.values():
            function: dict[str, Any] = {
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
            }
            if self.strict:
                function["strict"] = True
            out.append({"type": "function", "function": function})
        return out

    def responses_tools(self) -> list[dict[str, Any]]:
        """The ``tools=`` parameter of ``responses.create``."""
        return [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "strict": self.strict,
            }
            for t in self._tools.values()
        ]

    # ------------------------------------------------------------------ calls

    @staticmethod
    def calls_of(result: Any) -> tuple[str, list[tuple[str, str, Any]]]:
        """``(api, [(call_id, name, raw_arguments)])`` of a ChatCompletion, a chat message, or a
        Responses ``Response`` (objects or their dicts)."""
        output = _get(result, "output")
        if output is not None and _get(result, "choices") is None:
            calls = [
                (str(_get(it, "call_id")), str(_get(it, "name")), _get(it, "arguments"))
                for it in output
                if _get(it, "type") == "function_call"
            ]
            return "responses", calls
        choices = _get(result, "choices")
        message = _get(choices[0], "message") if choices else result
        calls = []
        for tc in _get(message, "tool_calls") or []:
            if _get(tc, "type", "function") != "function":
                continue
            fn = _get(tc, "function")
            calls.append((str(_get(tc, "id")), str(_get(fn, "name")), _get(fn, "arguments")))
        return "chat", calls

    def _event(self, name: str, raw: Any) -> Any:
        t = self._tools.get(name)
        return adapters.tool_call_event(
            name,
            adapters.parse_arguments(raw),
            context=self.context,
            framework=FRAMEWORK,
            tool=t.facts if t else None,
        )

    @staticmethod
    def _deny(text: str, _: Decision) -> str:
        return text

    def call(self, name: str, arguments: Any) -> str:
        """Decide and (if allowed) run one call; the text to hand back to the model."""
        try:
            event = self._event(name, arguments)
        except adapters.ArgumentsError as exc:
            return adapters.error_message(name, exc)
        t = self._tools.get(name)

        def run(decided: dict[str, Any]) -> str:
            if t is None:
                raise LookupError(f"no tool named {name!r}")
            if t.is_async:
                raise TypeError(f"tool {name!r} is async: use aexecute / the async client")
            return _text(t.fn(**decided))

        try:
            return adapters.govern(self.gate, event, run, self._deny)
        except Exception as exc:  # noqa: BLE001 - the tool failed: tell the model, as the SDK would
            return f"error: {type(exc).__name__}: {exc}"

    async def acall(self, name: str, arguments: Any) -> str:
        try:
            event = self._event(name, arguments)
        except adapters.ArgumentsError as exc:
            return adapters.error_message(name, exc)
        t = self._tools.get(name)

        async def run(decided: dict[str, Any]) -> str:
            if t is None:
                raise LookupError(f"no tool named {name!r}")
            value = t.fn(**decided)
            return _text(await value if t.is_async else value)

        try:
            return await adapters.agovern(self.gate, event, run, self._deny)
        except Exception as exc:  # noqa: BLE001
            return f"error: {type(exc).__name__}: {exc}"

    @staticmethod
    def _results(api: str, pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        if api == "responses":
            return [
                {"type": "function_call_output", "call_id": cid, "output": out}
                for cid, out in pairs
            ]
        return [{"role": "tool", "tool_call_id": cid, "content": out} for cid, out in pairs]

    def execute(self, result: Any) -> list[dict[str, Any]]:
        """Decide and run every tool call of ``result`` (each one on its own: a refused call
        does not stop the others). Returns the ``role: tool`` messages (Chat Completions) or
        ``function_call_output`` items (Responses) to send back, in call order."""
        api, calls = self.calls_of(result)
        return self._results(api, [(cid, self.call(name, raw)) for cid, name, raw in calls])

    async def aexecute(self, result: Any) -> list[dict[str, Any]]:
        api, calls = self.calls_of(result)
        return self._results(api, [(cid, await self.acall(name, raw)) for cid, name, raw in calls])

    # ------------------------------------------------------------------ a minimal loop

    def run_chat(
        self, client: Any, *, model: str, messages: list[Any], max_turns: int = 10, **kwargs: Any
    ) -> Any:
        """Chat Completions until the model stops calling tools (or ``max_turns``); appends
        to ``messages`` and returns the last ``ChatCompletion``."""
        response = None
        for _ in range(max_turns):
            response = client.chat.completions.create(
                model=model, messages=messages, tools=self.chat_tools(), **kwargs
            )
            message = response.choices[0].message
            messages.append(message.model_dump(exclude_none=True))
            if not message.tool_calls:
                break
            messages.extend(self.execute(message))
        return response

    async def arun_chat(
        self, client: Any, *, model: str, messages: list[Any], max_turns: int = 10, **kwargs: Any
    ) -> Any:
        response = None
        for _ in range(max_turns):
            response = await client.chat.completions.create(
                model=model, messages=messages, tools=self.chat_tools(), **kwargs
            )
            message = response.choices[0].message
            messages.append(message.model_dump(exclude_none=True))
            if not message.tool_calls:
                break
            messages.extend(await self.aexecute(message))
        return response
