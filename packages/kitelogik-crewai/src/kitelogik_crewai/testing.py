"""A scripted CrewAI LLM for tests and offline examples (no network, no API key): a
``BaseLLM`` answering with scripted turns, as native tool calls (OpenAI wire format) or as
ReAct text, and recording every request so a test can see what the model received."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from crewai.llms.base_llm import BaseLLM
from kitelogik.testing.scenarios import Turn
from pydantic import PrivateAttr

__all__ = ["ScriptedLLM"]


class ScriptedLLM(BaseLLM):
    """``ScriptedLLM.from_turns(turns)``; ``react=True`` answers in CrewAI's ReAct text format
    (one call per turn). ``script`` may instead be a function ``(messages, agent) -> Turn`` (for
    crews where several agents share the model)."""

    react: bool = False
    _turns: list[Turn] = PrivateAttr(default_factory=list)
    _script: Callable[[list[Any], Any], Turn] | None = PrivateAttr(default=None)
    _requests: list[list[Any]] = PrivateAttr(default_factory=list)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def from_turns(cls, turns: Sequence[Turn], *, react: bool = False) -> ScriptedLLM:
        llm = cls(model="kitelogik-scripted", react=react)
        llm._turns = list(turns)
        return llm

    @classmethod
    def from_function(
        cls, script: Callable[[list[Any], Any], Turn], *, react: bool = False
    ) -> ScriptedLLM:
        llm = cls(model="kitelogik-scripted", react=react)
        llm._script = script
        return llm

    @property
    def requests(self) -> list[list[Any]]:
        return self._requests

    def supports_function_calling(self) -> bool:
        return not self.react

    def _next(self, messages: Any, agent: Any) -> Turn:
        msgs = (
            list(messages)
            if isinstance(messages, list)
            else [{"role": "user", "content": str(messages)}]
        )
        with self._lock:
            self._requests.append(msgs)
            index = len(self._requests) - 1
        if self._script is not None:
            return self._script(msgs, agent)
        return self._turns[index] if index < len(self._turns) else Turn(text="done")

    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> Any:
        turn = self._next(messages, from_agent)
        if self.react:
            if turn.calls:
                c = turn.calls[0]
                return (
                    f"Thought: I need {c.name}\nAction: {c.name}\n"
                    f"Action Input: {json.dumps(dict(c.args))}"
                )
            return f"Thought: I have the answer\nFinal Answer: {turn.text}"
        if turn.calls:
            return [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(dict(c.args))},
                }
                for c in turn.calls
            ]
        return turn.text or ""

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(*args, **kwargs)

    def get_input_tokens_count(
        self, messages: Any, tools: Any = None, response_model: Any = None
    ) -> int:
        """A scripted model has no tokenizer: one token per four characters, without the
        warning CrewAI logs for providers that lack a native count."""
        text = messages if isinstance(messages, str) else json.dumps(messages, default=str)
        return (len(text) + 3) // 4

    def seen(self) -> dict[str, str]:
        """Tool results by call id, as the model received them (native tool calls)."""
        out: dict[str, str] = {}
        for messages in self._requests:
            for m in messages:
                if isinstance(m, dict) and m.get("role") == "tool" and m.get("tool_call_id"):
                    out[str(m["tool_call_id"])] = str(m.get("content"))
        return out

    def observations(self) -> list[str]:
        """ReAct: the ``Observation:`` texts the model received, in order."""
        last = self._requests[-1] if self._requests else []
        out = []
        for m in last:
            content = str(m.get("content") if isinstance(m, dict) else m)
            if isinstance(m, dict) and m.get("role") == "system":
                continue
            out.extend(part.split("\n")[0].strip() for part in content.split("Observation:")[1:])
        return out
