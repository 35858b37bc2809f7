"""Policy before every function call of a Semantic Kernel kernel (``KitelogikFilter``).

The native hooks are kernel filters. :meth:`KitelogikFilter.register` adds the same object as

* an **auto-function-invocation filter**: every function the model asks for in the
  auto-invoke loop (chat completion services, ``ChatCompletionAgent``, ``invoke_prompt``,
  streaming or not). Calls the model makes in one turn run concurrently and each is decided
  on its own;
* a **function-invocation filter**: every kernel-function invocation, including programmatic
  ``kernel.invoke(...)``. Under auto-invoke the call is already decided; the function filter
  reuses that decision (one decision, one audit record) unless a filter in between changed the
  arguments, in which case the changed call is decided again.

A denied call never runs: the filter does not call ``next`` and sets the context's result
(``function_result`` / ``result``) to the denial text, which the model receives as the
function's result (and ``kernel.invoke`` returns). An escalation waits for
the gate's approver inside the filter (Semantic Kernel has no pause/resume for function calls);
no approver, a refusal or a timeout is a deny. Handoffs of ``HandoffOrchestration``
(``Handoff-transfer_to_<agent>``) are decided as ``agent.delegate`` to ``<agent>``.

``Kernel.clone()`` (used by agent orchestrations) deep-copies the filter lists; the filter is
its own deep copy, so a cloned kernel is governed by the same filter and gate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from kitelogik import adapters
from kitelogik.adapters import ContextSource
from kitelogik.canonical import thaw
from kitelogik.decision import Decision
from kitelogik.events import SessionContext
from kitelogik.gate import PolicyGate
from semantic_kernel.filters import (
    AutoFunctionInvocationContext,
    FilterTypes,
    FunctionInvocationContext,
)
from semantic_kernel.functions import FunctionResult, KernelFunctionFromPrompt

__all__ = ["HANDOFF_PLUGIN", "KitelogikFilter"]

FRAMEWORK = "semantic-kernel"
#: The plugin HandoffOrchestration adds to each agent's kernel (``transfer_to_<agent>``).
HANDOFF_PLUGIN = "Handoff"
_TRANSFER = "transfer_to_"

_TYPES = (FilterTypes.AUTO_FUNCTION_INVOCATION, FilterTypes.FUNCTION_INVOCATION)
_EVENT_TYPES = {"tool": "tool_call", "delegate": "agent.delegate"}


class KitelogikFilter:
    """Decides every kernel function call before it runs.

    ``KitelogikFilter(gate, context=session).register(kernel)``

    ``context``: the session (a :class:`~kitelogik.SessionContext`, a callable returning one,
    or ``None`` for the enclosing :func:`kitelogik.session`). ``tools``: facts about functions
    for the policy (``{"send_email": {"external": True}}``), never from the model.
    ``qualified_names``: name the action ``plugin-function`` (the name the model sees) instead
    of the function's own name. ``functions``: also decide programmatic ``kernel.invoke`` calls
    (the function-invocation filter); on by default.
    """

    def __init__(
        self,
        gate: PolicyGate | None = None,
        *,
        context: ContextSource = None,
        tools: Mapping[str, Mapping[str, Any]] | None = None,
        qualified_names: bool = False,
        functions: bool = True,
    ) -> None:
        if gate is None:
            from kitelogik.governed import _default_gate

            gate = _default_gate()
        self.gate = gate
        # A fixed session is tagged with the framework once, not on every call.
        self.context: ContextSource = (
            adapters.resolve_context(context, FRAMEWORK)
            if isinstance(context, SessionContext)
            else context
        )
        self.tool_facts = {k: dict(v) for k, v in (tools or {}).items()}
        self.qualified_names = qualified_names
        self.functions = functions
        # (plugin, function) -> how its calls become events; functions do not change shape.
        self._shapes: dict[tuple[str | None, str], Any] = {}

    # ------------------------------------------------------------------ registration

    def register(self, kernel: Any) -> Any:
        """Add this filter to ``kernel`` (auto-function-invocation, and function-invocation
        unless ``functions=False``). Register it after your other filters: the filter added
        last runs closest to the function, so no other filter can change the arguments after
        the decision. Returns the kernel."""
        self.unregister(kernel)
        kernel.add_filter(FilterTypes.AUTO_FUNCTION_INVOCATION, self)
        if self.functions:
            kernel.add_filter(FilterTypes.FUNCTION_INVOCATION, self)
        return kernel

    def unregister(self, kernel: Any) -> None:
        """Remove this filter from ``kernel`` (both filter types); a no-op if absent."""
        for filter_type in _TYPES:
            if any(f is self for _, f in _filters(kernel, filter_type)):
                kernel.remove_filter(filter_type, filter_id=id(self))

    def registered(self, kernel: Any) -> bool:
        return any(f is self for _, f in _filters(kernel, FilterTypes.AUTO_FUNCTION_INVOCATION))

    # Kernel.clone() deep-copies the filter lists: keep the very same filter (and gate, with its
    # engine, locks and connections) in the clone.
    def __deepcopy__(self, memo: dict[int, Any]) -> KitelogikFilter:
        return self

    def __copy__(self) -> KitelogikFilter:
        return self

    # ------------------------------------------------------------------ the filter

    async def __call__(
        self,
        context: AutoFunctionInvocationContext | FunctionInvocationContext,
        next: Callable[[Any], Awaitable[None]],
    ) -> None:
        if not isinstance(context, AutoFunctionInvocationContext) and isinstance(
            context.function, KernelFunctionFromPrompt
        ):
            # A prompt function is a model call, not a tool: the functions the model asks for
            # inside it reach the auto-function-invocation filter.
            await next(context)
            return
        try:
            kind, name, args, facts = self._call(context)
            if not isinstance(context, AutoFunctionInvocationContext):
                running = adapters.running_decision()
                if (
                    running is not None
                    and running.event_type == _EVENT_TYPES[kind]
                    and running.action == name
                    and thaw(running.args) == args
                ):
                    # The auto-invocation filter's decision for exactly this call is running.
                    await next(context)
                    return
            event = self._event(kind, name, args, facts)
        except Exception as exc:  # noqa: BLE001 - anything we cannot describe is refused
            _set_result(context, adapters.error_message(_name(context), exc))
            return

        async def run(decided: dict[str, Any]) -> None:
            for key, value in decided.items():
                context.arguments[key] = value
            await next(context)

        def deny(text: str, _: Decision) -> None:
            _set_result(context, text)

        await adapters.agovern(self.gate, event, run, deny)

    # ------------------------------------------------------------------ events

    def event(self, context: AutoFunctionInvocationContext | FunctionInvocationContext) -> Any:
        """The governance event for the call in ``context``."""
        return self._event(*self._call(context))

    def _call(self, context: Any) -> tuple[str, str, dict[str, Any], dict[str, Any] | None]:
        function = context.function
        key = (function.plugin_name, function.name)
        cached = self._shapes.get(key)
        if cached is None or cached[0] is not function:
            cached = self._shapes[key] = (function, self._shape(function))
        kind, name, params, facts = cached[1]
        arguments = context.arguments
        return kind, name, {p: arguments[p] for p in params if p in arguments}, facts

    def _event(
        self, kind: str, name: str, args: dict[str, Any], facts: dict[str, Any] | None
    ) -> Any:
        if kind == "delegate":
            return adapters.delegation_event(name, args, context=self.context, framework=FRAMEWORK)
        return adapters.tool_call_event(
            name, args, context=self.context, framework=FRAMEWORK, tool=facts
        )

    def _shape(self, function: Any) -> tuple[str, str, tuple[str, ...], dict[str, Any] | None]:
        params = tuple(p.name for p in function.parameters if p.name)
        if function.plugin_name == HANDOFF_PLUGIN and function.name.startswith(_TRANSFER):
            return "delegate", function.name[len(_TRANSFER) :], params, None
        name = function.fully_qualified_name if self.qualified_names else function.name
        facts = self.tool_facts.get(name) or self.tool_facts.get(function.fully_qualified_name)
        if function.plugin_name:
            facts = {"plugin": function.plugin_name, **(facts or {})}
        return "tool", name, params, facts


def _filters(kernel: Any, filter_type: FilterTypes) -> list[tuple[int, Any]]:
    attr = (
        "auto_function_invocation_filters"
        if filter_type == FilterTypes.AUTO_FUNCTION_INVOCATION
        else "function_invocation_filters"
    )
    return list(getattr(kernel, attr, []) or [])


def _name(context: Any) -> str:
    try:
        return str(context.function.name)
    except Exception:  # noqa: BLE001
        return "function"


def _set_result(context: Any, text: str) -> None:
    result = FunctionResult(function=context.function.metadata, value=text)
    if isinstance(context, AutoFunctionInvocationContext):
        context.function_result = result
    else:
        context.result = result
