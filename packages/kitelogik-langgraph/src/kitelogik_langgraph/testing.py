"""A scripted LangChain chat model for tests and offline examples (no network, no API key).

``GenericFakeChatModel`` has no ``bind_tools`` (which agent factories call) and streams nothing
for a tool-call-only message; this subclass fixes both and records every request, so a test can
see what the model received as each tool call's result.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from kitelogik.testing.scenarios import Turn
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatResult
from pydantic import Field

__all__ = ["ScriptedChatModel", "ai_message"]


def ai_message(turn: Turn) -> AIMessage:
    return AIMessage(
        content=turn.text or "",
        tool_calls=[
            {"name": c.name, "args": dict(c.args), "id": c.id, "type": "tool_call"}
            for c in turn.calls
        ],
    )


class ScriptedChatModel(GenericFakeChatModel):
    """Answers with the scripted turns in order; then with a final "done"."""

    requests: list[list[BaseMessage]] = Field(default_factory=list)
    disable_streaming: bool | Literal["tool_calling"] = True

    @classmethod
    def from_turns(cls, turns: Iterable[Turn | AIMessage]) -> ScriptedChatModel:
        msgs = [t if isinstance(t, AIMessage) else ai_message(t) for t in turns]
        return cls(messages=iter([*msgs, *(AIMessage(content="done") for _ in range(64))]))

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.requests.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    def seen(self) -> dict[str, str]:
        """Tool results by call id, as the model received them."""
        out: dict[str, str] = {}
        for request in self.requests:
            for m in request:
                if isinstance(m, ToolMessage):
                    c = m.content
                    out[m.tool_call_id] = c if isinstance(c, str) else json.dumps(c)
        return out
