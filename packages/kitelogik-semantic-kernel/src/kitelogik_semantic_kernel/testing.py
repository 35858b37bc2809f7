"""A scripted Semantic Kernel chat completion service for tests and offline examples (no
network, no API key): it answers each request with the next scripted turn and records every
chat history it was sent, so a test can see what the model received as each call's result."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Iterable
from typing import Any, ClassVar

from kitelogik.testing.scenarios import Turn
from pydantic import Field
from semantic_kernel.connectors.ai.chat_completion_client_base import ChatCompletionClientBase
from semantic_kernel.contents import (
    AuthorRole,
    ChatMessageContent,
    FunctionCallContent,
    FunctionResultContent,
    StreamingChatMessageContent,
)

__all__ = ["ScriptedChatCompletion"]


class ScriptedChatCompletion(ChatCompletionClientBase):
    """Answers with the scripted turns in order, then with a final ``done``. A call's name may
    be ``plugin-function`` or a bare function name (then ``plugin`` is used)."""

    SUPPORTS_FUNCTION_CALLING: ClassVar[bool] = True

    turns: list[Any] = Field(default_factory=list)
    plugin: str = "kit"
    requests: list[list[Any]] = Field(default_factory=list)

    @classmethod
    def from_turns(
        cls, turns: Iterable[Turn], *, plugin: str = "kit", service_id: str = "scripted"
    ) -> ScriptedChatCompletion:
        return cls(ai_model_id="scripted", service_id=service_id, turns=list(turns), plugin=plugin)

    def _next(self, chat_history: Any) -> Turn:
        self.requests.append(list(chat_history.messages))
        index = len(self.requests) - 1
        return self.turns[index] if index < len(self.turns) else Turn(text="done")

    def _calls(self, turn: Turn) -> list[FunctionCallContent]:
        out = []
        for c in turn.calls:
            plugin, _, fn = c.name.rpartition("-")
            out.append(
                FunctionCallContent(
                    id=c.id,
                    plugin_name=plugin or self.plugin,
                    function_name=fn,
                    arguments=json.dumps(dict(c.args)),
                )
            )
        return out

    async def _inner_get_chat_message_contents(
        self, chat_history: Any, settings: Any
    ) -> list[ChatMessageContent]:
        turn = self._next(chat_history)
        if turn.calls:
            return [ChatMessageContent(role=AuthorRole.ASSISTANT, items=self._calls(turn))]  # type: ignore[arg-type]
        return [ChatMessageContent(role=AuthorRole.ASSISTANT, content=turn.text or "")]

    async def _inner_get_streaming_chat_message_contents(
        self, chat_history: Any, settings: Any, function_invoke_attempt: int = 0
    ) -> AsyncGenerator[list[StreamingChatMessageContent], Any]:
        turn = self._next(chat_history)
        if turn.calls:
            yield [
                StreamingChatMessageContent(
                    role=AuthorRole.ASSISTANT,
                    choice_index=0,
                    items=self._calls(turn),  # type: ignore[arg-type]
                    function_invoke_attempt=function_invoke_attempt,
                )
            ]
        else:
            yield [
                StreamingChatMessageContent(
                    role=AuthorRole.ASSISTANT, choice_index=0, content=turn.text or ""
                )
            ]

    def seen(self) -> dict[str, str]:
        """Function results by call id, as the model received them."""
        out: dict[str, str] = {}
        for messages in self.requests:
            for m in messages:
                for item in getattr(m, "items", []) or []:
                    if isinstance(item, FunctionResultContent) and item.id:
                        out[str(item.id)] = str(item.result)
        return out
