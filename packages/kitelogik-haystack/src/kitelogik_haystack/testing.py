"""A scripted Haystack chat generator for tests and offline examples (no network, no API key).

:func:`scripted_generator` is Haystack's own ``MockChatGenerator`` answering a kitelogik
:class:`Turn` script statelessly: the next turn is the first whose calls have not all been
answered yet (a rejected call is answered too), so one generator serves many runs. :func:`seen`
reads back what the model received as each tool call's result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from haystack.components.generators.chat import MockChatGenerator
from haystack.dataclasses import ChatMessage, ToolCall
from kitelogik.testing.scenarios import Turn

__all__ = ["ScriptedGenerator", "scripted_generator", "seen"]


def seen(messages: Sequence[ChatMessage]) -> dict[str, str]:
    """Tool results by call id, as they appear in ``messages``."""
    out: dict[str, str] = {}
    for m in messages:
        for r in m.tool_call_results or []:
            if r.origin.id:
                out[r.origin.id] = str(r.result)
    return out


class ScriptedGenerator(MockChatGenerator):
    requests: list[list[ChatMessage]]

    def seen(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for messages in self.requests:
            out.update(seen(messages))
        return out


def scripted_generator(turns: Sequence[Turn], *, final_text: str = "done") -> ScriptedGenerator:
    script = list(turns)

    def respond(messages: list[ChatMessage], *args: Any, **kwargs: Any) -> ChatMessage | str:
        gen.requests.append(list(messages))
        answered = set(seen(messages))
        for turn in script:
            if turn.calls and not all(c.id in answered for c in turn.calls):
                return ChatMessage.from_assistant(
                    tool_calls=[
                        ToolCall(id=c.id, tool_name=c.name, arguments=dict(c.args))
                        for c in turn.calls
                    ]
                )
            if not turn.calls:
                return turn.text or final_text
        return final_text

    gen = ScriptedGenerator(response_fn=respond)
    gen.requests = []
    return gen
