"""Policy before every tool call of a Haystack ``Agent``.

Haystack's native hooks used here:

* a ``before_tool`` confirmation hook (``haystack.hooks.human_in_the_loop.ConfirmationHook``)
  whose strategy for every tool (``"*"``) is :class:`KitelogikStrategy`: it decides each pending
  call of a model turn (one decision per call, parallel calls included) and returns a
  ``ToolExecutionDecision``. On allow it passes ``final_tool_params`` = exactly the decided
  arguments (leaving it ``None`` would be a *modify* to ``{}``); on deny ``execute=False`` with
  the reason as ``feedback``, which the model receives as an error tool result;
* escalations wait inside the strategy for the gate's approver (a
  :class:`kitelogik.protocols.Approver`, e.g. one backed by the durable
  ``kitelogik.anchor.hitl.ApprovalQueue``): only an answer bound to the decision's digest allows;
* the agent's tools are handed over wrapped (:meth:`Kitelogik.tools`): a wrapped tool runs only
  for a call the strategy allowed, with exactly the decided arguments, inside
  ``PolicyGate.invoke`` / ``ainvoke`` (outcome audited, a ``@governed`` body reuses the
  decision). A call that reaches a wrapped tool without an allow (the hook was left out, or the
  arguments were changed after the decision) is refused;
* a sub-agent handed over as ``ComponentTool(component=Agent(...))`` is governed as
  ``agent.spawn`` (its own tools need their own :class:`Kitelogik` hook: Haystack hooks belong
  to one ``Agent``).
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from haystack.components.agents import Agent
from haystack.hooks.human_in_the_loop import ConfirmationHook, ToolExecutionDecision
from haystack.tools import Tool
from kitelogik import adapters
from kitelogik.adapters import ContextSource
from kitelogik.canonical import thaw
from kitelogik.decision import Decision
from kitelogik.events import GovernanceEvent, SessionContext
from kitelogik.gate import PolicyGate

__all__ = ["Kitelogik", "KitelogikStrategy"]

FRAMEWORK = "haystack"
#: Key of ``hook_context`` (``agent.run(..., hook_context={...})``) holding the run's
#: ``SessionContext``; it wins over the ``context`` given at construction.
SESSION_KEY = "kitelogik_session"
#: Allowed calls waiting for their tool (bounded: a call whose tool never ran is forgotten).
MAX_ALLOWED = 10_000


def _same(decided: Mapping[str, Any], given: Mapping[str, Any]) -> bool:
    return all(k in given and given[k] == v for k, v in decided.items())


class Kitelogik:
    """Kite Logik for a Haystack ``Agent``::

        kitelogik = Kitelogik(gate, context=ctx)
        agent = Agent(chat_generator=gen, tools=kitelogik.tools([search, send_email]),
                      hooks=kitelogik.hooks())

    ``tools`` holds facts about tools for the policy (``{"send_email": {"external": True}}``),
    from the host, never the model. ``agents`` names tools that start a sub-agent (governed as
    ``agent.spawn``); a ``ComponentTool`` wrapping an ``Agent`` is detected without it."""

    def __init__(
        self,
        gate: PolicyGate | None = None,
        *,
        context: ContextSource = None,
        tools: Mapping[str, Mapping[str, Any]] | None = None,
        agents: Iterable[str] = (),
    ) -> None:
        if gate is None:
            from kitelogik.governed import _default_gate

            gate = _default_gate()
        self.gate = gate
        self.context = (
            context.with_framework(FRAMEWORK)
            if isinstance(context, SessionContext) and context.framework != FRAMEWORK
            else context
        )
        self.tool_facts = {k: dict(v) for k, v in (tools or {}).items()}
        self.agents = set(agents)
        self.strategy = KitelogikStrategy(self)
        #: tool name -> allowed decisions whose tool has not run yet.
        self._allowed: dict[str, list[Decision]] = {}
        self._count = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ wiring

    def hooks(self) -> dict[str, list[Any]]:
        """The ``hooks=`` of an ``Agent``: the kitelogik confirmation hook under ``before_tool``."""
        return {"before_tool": [self.hook()]}

    def hook(self) -> ConfirmationHook:
        """The ``before_tool`` ``ConfirmationHook`` (to combine with other hooks)."""
        return ConfirmationHook(confirmation_strategies={"*": self.strategy})

    def tools(self, tools: Iterable[Tool]) -> list[Tool]:
        """The agent's tools, each wrapped to run only a call this plugin allowed (see the module
        docstring). Functions decorated with ``@tool`` and ``ComponentTool`` s are ``Tool`` s."""
        return [self.wrap(t) for t in tools]

    def wrap(self, tool: Tool) -> Tool:
        component = getattr(tool, "_component", None)
        if component is not None and isinstance(component, Agent):
            self.agents.add(tool.name)
        wrapped = copy.copy(tool)
        name = tool.name
        fn, afn = tool.function, tool.async_function
        if fn is not None:
            # functools.wraps keeps the signature Haystack reads (State injection, streaming).
            @functools.wraps(fn)
            def governed_fn(**kwargs: Any) -> Any:
                decision = self._take(name, kwargs)
                if decision is None:
                    return self._unallowed(name)
                return adapters.run_allowed(
                    self.gate, decision, lambda decided: fn(**{**kwargs, **decided})
                )

            wrapped.function = governed_fn
        if afn is not None:

            @functools.wraps(afn)
            async def governed_afn(**kwargs: Any) -> Any:
                decision = self._take(name, kwargs)
                if decision is None:
                    return self._unallowed(name)

                async def run(decided: dict[str, Any]) -> Any:
                    return await afn(**{**kwargs, **decided})

                return await adapters.arun_allowed(self.gate, decision, run)

            wrapped.async_function = governed_afn
        return wrapped

    # ------------------------------------------------------------------ decisions

    def event(self, name: str, args: Mapping[str, Any], run_context: Any) -> GovernanceEvent:
        ctx: ContextSource = self.context
        if isinstance(run_context, Mapping) and isinstance(
            run_context.get(SESSION_KEY), SessionContext
        ):
            ctx = run_context[SESSION_KEY]
        if name in self.agents:
            return adapters.spawn_event(name, args, context=ctx, framework=FRAMEWORK)
        return adapters.tool_call_event(
            name, args, context=ctx, framework=FRAMEWORK, tool=self.tool_facts.get(name)
        )

    def _remember(self, decision: Decision) -> None:
        with self._lock:
            self._allowed.setdefault(decision.action, []).append(decision)
            self._count += 1
            if self._count > MAX_ALLOWED:  # tools that never ran: forget the oldest
                for name, items in list(self._allowed.items()):
                    if items:
                        items.pop(0)
                        self._count -= 1
                        if not items:
                            del self._allowed[name]
                        break

    def _take(self, name: str, kwargs: Mapping[str, Any]) -> Decision | None:
        with self._lock:
            items = self._allowed.get(name) or []
            for i, decision in enumerate(items):
                if _same(thaw(decision.args), kwargs):
                    del items[i]
                    self._count -= 1
                    if not items:
                        self._allowed.pop(name, None)
                    return decision
        return None

    def pending(self) -> int:
        """Allowed calls whose tool has not run yet."""
        with self._lock:
            return self._count

    @staticmethod
    def _unallowed(name: str) -> str:
        return adapters.error_message(
            name, "no kitelogik decision allows this call (is the Kitelogik hook on this Agent?)"
        )

    def _verdict(self, name: str, call_id: str | None, decision: Decision) -> ToolExecutionDecision:
        if not decision.allowed:
            return ToolExecutionDecision(
                tool_name=name,
                execute=False,
                tool_call_id=call_id,
                feedback=adapters.denial_message(decision),
            )
        self._remember(decision)
        return ToolExecutionDecision(
            tool_name=name,
            execute=True,
            tool_call_id=call_id,
            final_tool_params=thaw(decision.args),
        )

    def _error(self, name: str, call_id: str | None, exc: BaseException) -> ToolExecutionDecision:
        return ToolExecutionDecision(
            tool_name=name,
            execute=False,
            tool_call_id=call_id,
            feedback=adapters.error_message(name, f"{type(exc).__name__}: {exc}"),
        )

    def decide(
        self, name: str, params: Mapping[str, Any], call_id: str | None, run_context: Any
    ) -> ToolExecutionDecision:
        try:
            decision = self.gate.authorize(self.event(name, dict(params or {}), run_context))
            return self._verdict(name, call_id, decision)
        except Exception as exc:  # noqa: BLE001 - every internal error is a deny
            return self._error(name, call_id, exc)

    async def adecide(
        self, name: str, params: Mapping[str, Any], call_id: str | None, run_context: Any
    ) -> ToolExecutionDecision:
        try:
            event = self.event(name, dict(params or {}), run_context)
            decision = await self.gate.aauthorize(event)
            return self._verdict(name, call_id, decision)
        except Exception as exc:  # noqa: BLE001 - every internal error is a deny
            return self._error(name, call_id, exc)


class KitelogikStrategy:
    """A Haystack ``ConfirmationStrategy`` deciding each call by policy (see :class:`Kitelogik`)."""

    def __init__(self, kitelogik: Kitelogik) -> None:
        self.kitelogik = kitelogik

    def run(
        self,
        *,
        tool_name: str,
        tool_description: str,
        tool_params: dict[str, Any],
        tool_call_id: str | None = None,
        confirmation_strategy_context: dict[str, Any] | None = None,
    ) -> ToolExecutionDecision:
        return self.kitelogik.decide(
            tool_name, tool_params, tool_call_id, confirmation_strategy_context
        )

    async def run_async(
        self,
        *,
        tool_name: str,
        tool_description: str,
        tool_params: dict[str, Any],
        tool_call_id: str | None = None,
        confirmation_strategy_context: dict[str, Any] | None = None,
    ) -> ToolExecutionDecision:
        return await self.kitelogik.adecide(
            tool_name, tool_params, tool_call_id, confirmation_strategy_context
        )

    def to_dict(self) -> dict[str, Any]:
        # The gate (engine, approver, audit) is live state, not configuration: a serialized
        # pipeline must be re-governed with a new Kitelogik on load.
        return {"type": "kitelogik_haystack.KitelogikStrategy", "init_parameters": {}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KitelogikStrategy:
        raise TypeError(
            "a KitelogikStrategy cannot be deserialized (it holds a live PolicyGate): "
            "rebuild the agent's hooks with Kitelogik(gate).hooks()"
        )
