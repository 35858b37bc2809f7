"""An offline Dify session for tests and examples (no daemon, no network, no API key).

:class:`ScriptedSession` stands in for the ``Session`` the Dify plugin daemon hands a strategy:
``session.model.llm.invoke`` answers a kitelogik :class:`Turn` script statelessly (the next turn
is the first whose calls have not all been answered by a ``ToolPromptMessage``), and
``session.tool.invoke`` calls local Python functions and records every invocation. Dify's own
official strategies are tested the same way (a stand-in session, the strategy's real
``invoke`` entry point).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any

from dify_plugin.entities.model.llm import LLMResult, LLMUsage
from dify_plugin.entities.model.message import AssistantPromptMessage, ToolPromptMessage
from dify_plugin.entities.tool import ToolInvokeMessage
from kitelogik.testing.scenarios import Turn

__all__ = ["ScriptedSession", "model_params", "tool_entity"]


class _LLM:
    def __init__(self, turns: Sequence[Turn], final_text: str) -> None:
        self.script = list(turns)
        self.final_text = final_text
        self.requests: list[list[Any]] = []

    def invoke(
        self,
        model_config: Any,
        prompt_messages: list[Any],
        tools: Any = None,
        stop: Any = None,
        stream: bool = True,
    ) -> LLMResult:
        self.requests.append(list(prompt_messages))
        answered = {m.tool_call_id for m in prompt_messages if isinstance(m, ToolPromptMessage)}
        message = AssistantPromptMessage(content=self.final_text)
        for turn in self.script:
            if turn.calls and not all(c.id in answered for c in turn.calls):
                message = AssistantPromptMessage(
                    content="",
                    tool_calls=[
                        AssistantPromptMessage.ToolCall(
                            id=c.id,
                            type="function",
                            function=AssistantPromptMessage.ToolCall.ToolCallFunction(
                                name=c.name, arguments=json.dumps(dict(c.args))
                            ),
                        )
                        for c in turn.calls
                    ],
                )
                break
            if not turn.calls:
                message = AssistantPromptMessage(content=turn.text or self.final_text)
                break
        return LLMResult(model="scripted", message=message, usage=LLMUsage.empty_usage())


class _Tools:
    def __init__(self, functions: Mapping[str, Callable[..., Any]]) -> None:
        self.functions = dict(functions)
        self.invocations: list[tuple[str, str, dict[str, Any]]] = []

    def invoke(
        self,
        provider_type: Any,
        provider: str,
        tool_name: str,
        parameters: dict[str, Any],
        credential_id: str | None = None,
    ) -> Generator[ToolInvokeMessage, None, None]:
        self.invocations.append((provider, tool_name, dict(parameters)))
        result = self.functions[tool_name](**parameters)
        yield ToolInvokeMessage(
            type=ToolInvokeMessage.MessageType.TEXT,
            message=ToolInvokeMessage.TextMessage(text=str(result)),
        )


class _Model:
    def __init__(self, llm: _LLM) -> None:
        self.llm = llm


class ScriptedSession:
    """``session.model.llm`` answers the script; ``session.tool`` runs ``functions`` by name."""

    def __init__(
        self,
        turns: Sequence[Turn],
        functions: Mapping[str, Callable[..., Any]],
        *,
        final_text: str = "done",
        conversation_id: str = "conv-1",
        app_id: str = "app-1",
    ) -> None:
        self.model = _Model(_LLM(turns, final_text))
        self.tool = _Tools(functions)
        self.conversation_id = conversation_id
        self.app_id = app_id
        self.session_id = "dify-session"

    def seen(self) -> dict[str, str]:
        """Tool results by call id, as the model received them."""
        out: dict[str, str] = {}
        for messages in self.model.llm.requests:
            for m in messages:
                if isinstance(m, ToolPromptMessage):
                    out[m.tool_call_id] = str(m.content)
        return out


_TYPES = {"string": "string", "integer": "number", "number": "number", "boolean": "boolean"}


def tool_entity(
    name: str,
    description: str,
    schema: Mapping[str, Any],
    *,
    provider: str = "local",
) -> dict[str, Any]:
    """A ``ToolEntity`` document (what Dify hands a strategy for each tool of the node) for a
    tool with the JSON ``schema``."""
    params = []
    for pname, prop in (schema.get("properties") or {}).items():
        ptype = _TYPES.get(str(prop.get("type")), "array" if prop.get("type") == "array" else "any")
        params.append(
            {
                "name": pname,
                "label": {"en_US": pname},
                "human_description": {"en_US": pname},
                "llm_description": pname,
                "type": ptype,
                "form": "llm",
                "required": pname in (schema.get("required") or []),
            }
        )
    return {
        "identity": {
            "author": "kitelogik",
            "name": name,
            "label": {"en_US": name},
            "provider": provider,
        },
        "parameters": params,
        "description": {"human": {"en_US": description}, "llm": description},
    }


def model_params() -> dict[str, Any]:
    return {"provider": "scripted", "model": "scripted", "mode": "chat", "completion_params": {}}
