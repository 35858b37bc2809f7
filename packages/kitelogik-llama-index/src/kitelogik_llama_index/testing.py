"""A scripted LlamaIndex LLM for tests and offline examples (no network, no API key): the
built-in ``MockFunctionCallingLLM`` answering with scripted turns (native tool calls, or ReAct
text), recording every request so a test can see what the model received."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from kitelogik.testing.scenarios import Turn
from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock, ToolCallBlock
from llama_index.core.llms.mock import MockFunctionCallingLLM

__all__ = ["ScriptedLLM"]


class ScriptedLLM:
    """``ScriptedLLM(turns).llm`` is the model to hand to an agent. ``react=True`` answers in
    the ReAct text format (one call per turn) instead of native tool calls."""

    def __init__(self, turns: Sequence[Turn], *, react: bool = False) -> None:
        self.turns = list(turns)
        self.react = react
        self.requests: list[list[ChatMessage]] = []
        self.llm = MockFunctionCallingLLM(response_generator=self._respond)

    def _respond(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        self.requests.append(list(messages))
        # Streaming and non-streaming agents ask once per turn; the ReAct agent too.
        index = len(self.requests) - 1
        turn = self.turns[index] if index < len(self.turns) else Turn(text="done")
        if self.react:
            if turn.calls:
                c = turn.calls[0]
                return ChatMessage(
                    role=MessageRole.ASSISTANT,
                    content=(
                        f"Thought: I need {c.name}.\nAction: {c.name}\n"
                        f"Action Input: {json.dumps(dict(c.args))}"
                    ),
                )
            return ChatMessage(
                role=MessageRole.ASSISTANT, content=f"Thought: done.\nAnswer: {turn.text}"
            )
        if turn.calls:
            # Pass blocks only: a content= would replace them (and the calls would vanish).
            return ChatMessage(
                role=MessageRole.ASSISTANT,
                blocks=[
                    TextBlock(text="calling tools"),
                    *(
                        ToolCallBlock(tool_call_id=c.id, tool_name=c.name, tool_kwargs=dict(c.args))
                        for c in turn.calls
                    ),
                ],
            )
        return ChatMessage(role=MessageRole.ASSISTANT, content=turn.text or "")

    def seen(self) -> dict[str, str]:
        """Tool results by call id, as the model received them."""
        out: dict[str, str] = {}
        for messages in self.requests:
            for m in messages:
                if m.role == MessageRole.TOOL:
                    call_id = m.additional_kwargs.get("tool_call_id")
                    if call_id:
                        out[str(call_id)] = str(m.content)
        return out

    def observations(self) -> list[str]:
        """ReAct: the ``Observation:`` texts the model received, in order."""
        last = self.requests[-1] if self.requests else []
        return [
            str(m.content).split("Observation:", 1)[1].strip()
            for m in last
            if m.role != MessageRole.SYSTEM and "Observation:" in str(m.content or "")
        ]
