"""A governed function-calling agent strategy for Dify.

Dify has no hook around an agent node's tool calls: the agent loop is the strategy's own code.
:class:`GovernedFunctionCalling` is that loop (function calling, like Dify's built-in strategy)
with the policy gate between the model's tool calls and ``session.tool.invoke``:

* every tool call the model makes is decided (``tool_call`` event, action: the tool name, args:
  the parameters the tool would receive, the node's runtime parameters included);
* allow: ``session.tool.invoke`` runs with exactly the decided parameters, inside
  ``PolicyGate.invoke`` (outcome audited, budget settled);
* deny: the tool is not invoked; the model receives ``[kitelogik] DENIED <tool>: <reason>`` as
  the tool's result (a ``ToolPromptMessage``) and the loop goes on;
* escalate: waits for the gate's approver (e.g. ``kitelogik.anchor.hitl.ApprovalQueue``); Dify
  has no pause/resume for agent strategies. Without an approver an escalation is a deny;
* every decision is also yielded as a JSON message, so it appears in Dify's run log.

Importing this module imports ``dify_plugin``, which gevent-patches the standard library.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Generator, Mapping
from typing import Any

from dify_plugin import AgentStrategy
from dify_plugin.entities.agent import AgentInvokeMessage
from dify_plugin.entities.model.llm import LLMModelConfig, LLMResult
from dify_plugin.entities.model.message import (
    AssistantPromptMessage,
    PromptMessage,
    SystemPromptMessage,
    ToolPromptMessage,
    UserPromptMessage,
)
from dify_plugin.entities.tool import ToolInvokeMessage
from dify_plugin.interfaces.agent import AgentModelConfig, ToolEntity
from kitelogik import adapters
from kitelogik.adapters import ContextSource
from kitelogik.decision import Decision
from kitelogik.events import SessionContext
from kitelogik.gate import PolicyGate
from pydantic import BaseModel, Field

__all__ = ["GovernedFunctionCalling", "GovernedParams"]

FRAMEWORK = "dify"


class GovernedParams(BaseModel):
    """The strategy's parameters (``strategies/governed_function_calling.yaml``)."""

    query: str
    model: AgentModelConfig
    tools: list[ToolEntity] | None = None
    instruction: str | None = None
    maximum_iterations: int = Field(default=5, ge=1, le=100)
    #: Who the run acts for, as the app builder configured the node (never the model).
    kitelogik_role: str | None = None
    kitelogik_scopes: str | None = None  # comma-separated


@functools.lru_cache(maxsize=1024)
def _run_context(
    session_id: str, app_id: str | None, role: str | None, scopes: str
) -> SessionContext:
    """The session of a Dify run (cached: one policy-input document per conversation)."""
    return SessionContext(
        session_id=session_id,
        agent_id=app_id,
        user_role=role,
        session_scopes=tuple(x.strip() for x in scopes.split(",") if x.strip()),
        framework=FRAMEWORK,
    )


def tool_text(messages: Any) -> str:
    """What a tool invocation returned, as text for the model."""
    out: list[str] = []
    for m in messages:
        t = m.type
        if t == ToolInvokeMessage.MessageType.TEXT:
            out.append(m.message.text)
        elif t == ToolInvokeMessage.MessageType.LINK:
            out.append(f"link: {m.message.text}")
        elif t == ToolInvokeMessage.MessageType.JSON:
            out.append(json.dumps(m.message.json_object, ensure_ascii=False, default=str))
    return "".join(out)


class GovernedFunctionCalling(AgentStrategy):
    """Function calling with every tool call decided by Kite Logik first (see the module
    docstring). ``gate`` / ``context`` default to the shipped policies and a session built from
    the Dify run (conversation id, app id, the node's ``kitelogik_role`` / ``kitelogik_scopes``);
    set them on the class (or an instance) to configure them in code."""

    gate: PolicyGate | None = None
    context: ContextSource = None
    #: Facts about tools for the policy, from the host: ``{"send_email": {"external": True}}``.
    tool_facts: Mapping[str, Mapping[str, Any]] = {}

    # ------------------------------------------------------------------ configuration

    def _gate(self) -> PolicyGate:
        if self.gate is not None:
            return self.gate
        from kitelogik.governed import _default_gate

        return _default_gate()

    def _context(self, p: GovernedParams) -> ContextSource:
        if self.context is not None:
            return self.context
        s = self.session
        return _run_context(
            str(getattr(s, "conversation_id", None) or getattr(s, "session_id", None) or ""),
            getattr(s, "app_id", None),
            p.kitelogik_role or None,
            p.kitelogik_scopes or "",
        )

    # ------------------------------------------------------------------ the loop

    def _invoke(self, parameters: dict[str, Any]) -> Generator[AgentInvokeMessage, None, None]:
        p = GovernedParams(**parameters)
        gate = self._gate()
        context = self._context(p)
        tools = {t.identity.name: t for t in p.tools or []}
        prompt_tools = self._init_prompt_tools(p.tools)
        messages: list[PromptMessage] = []
        if p.instruction:
            messages.append(SystemPromptMessage(content=p.instruction))
        messages.append(UserPromptMessage(content=p.query))
        model_config = LLMModelConfig(**p.model.model_dump(mode="json"))
        for _ in range(p.maximum_iterations):
            result = self.session.model.llm.invoke(
                model_config=model_config,
                prompt_messages=messages,
                tools=prompt_tools,
                stream=False,
            )
            assert isinstance(result, LLMResult)
            calls = result.message.tool_calls or []
            if not calls:
                yield self.create_text_message(str(result.message.content or ""))
                return
            messages.append(
                AssistantPromptMessage(content=result.message.content or "", tool_calls=calls)
            )
            for call in calls:
                text, record = self._call(gate, context, tools, call)
                yield self.create_json_message(record)
                messages.append(
                    ToolPromptMessage(content=text, tool_call_id=call.id, name=call.function.name)
                )
        yield self.create_text_message(
            f"{adapters.PREFIX} stopped after {p.maximum_iterations} iterations"
        )

    def _call(
        self,
        gate: PolicyGate,
        context: ContextSource,
        tools: Mapping[str, ToolEntity],
        call: AssistantPromptMessage.ToolCall,
    ) -> tuple[str, dict[str, Any]]:
        name = call.function.name
        record: dict[str, Any] = {"kitelogik": {"tool": name, "tool_call_id": call.id}}
        entity = tools.get(name)
        if entity is None:  # nothing to run: the model named a tool the node does not have
            record["kitelogik"]["verdict"] = "unknown_tool"
            return adapters.error_message(name, "no such tool in this agent"), record
        decision: Decision | None = None
        try:
            args = adapters.parse_arguments(call.function.arguments)
            params = {**dict(entity.runtime_parameters or {}), **args}
            event = adapters.tool_call_event(
                name, params, context=context, framework=FRAMEWORK, tool=self.tool_facts.get(name)
            )
            decision = gate.authorize(event)
        except Exception as exc:  # noqa: BLE001 - every internal error is a deny
            record["kitelogik"]["verdict"] = "deny"
            record["kitelogik"]["reasons"] = [f"{type(exc).__name__}: {exc}"]
            return adapters.error_message(name, f"{type(exc).__name__}: {exc}"), record
        record["kitelogik"].update(
            verdict="allow" if decision.allowed else "deny",
            policy_verdict=decision.verdict,
            decision_id=decision.id,
            reasons=list(decision.reasons),
        )
        if not decision.allowed:
            return adapters.denial_message(decision), record

        def run(decided: dict[str, Any]) -> str:
            return tool_text(
                self.session.tool.invoke(
                    provider_type=entity.provider_type,
                    provider=entity.identity.provider,
                    tool_name=name,
                    parameters=decided,
                )
            )

        try:
            return adapters.run_allowed(gate, decision, run), record
        except Exception as exc:  # noqa: BLE001 - the tool failed (audited as failed)
            return f"tool error: {type(exc).__name__}: {exc}", record
