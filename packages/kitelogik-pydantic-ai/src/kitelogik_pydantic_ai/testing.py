"""A scripted PydanticAI model for tests and offline examples (no network, no API key).

:func:`scripted_model` answers each model request from a kitelogik :class:`Turn` script (the
turn is the number of model responses already in the conversation, so a resumed run picks up
where it paused), with both the plain and the streaming function, and records every request so
:func:`seen` can read back what the model received as each tool call's result.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

from kitelogik.testing.scenarios import Turn
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

__all__ = ["ScriptedModel", "scripted_model"]


class ScriptedModel(FunctionModel):
    """A ``FunctionModel`` answering a :class:`Turn` script; see :func:`scripted_model`."""

    requests: list[list[ModelMessage]]

    def seen(self) -> dict[str, str]:
        """Tool results by call id, as the model received them."""
        out: dict[str, str] = {}
        for messages in self.requests:
            for m in messages:
                if not isinstance(m, ModelRequest):
                    continue
                for p in m.parts:
                    if isinstance(p, ToolReturnPart | RetryPromptPart) and p.tool_call_id:
                        c = p.content
                        out[p.tool_call_id] = c if isinstance(c, str) else json.dumps(c)
        return out


def scripted_model(turns: Sequence[Turn], *, final_text: str = "done") -> ScriptedModel:
    script = list(turns)

    def pick(messages: list[ModelMessage]) -> Turn:
        index = sum(isinstance(m, ModelResponse) for m in messages)
        return script[index] if index < len(script) else Turn(text=final_text)

    def fn(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        model.requests.append(list(messages))
        turn = pick(messages)
        if turn.calls:
            return ModelResponse(
                parts=[ToolCallPart(c.name, dict(c.args), tool_call_id=c.id) for c in turn.calls]
            )
        return ModelResponse(parts=[TextPart(turn.text or "")])

    async def stream(
        messages: list[ModelMessage], info: AgentInfo
    ) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        model.requests.append(list(messages))
        turn = pick(messages)
        if turn.calls:
            yield {
                i: DeltaToolCall(name=c.name, json_args=json.dumps(dict(c.args)), tool_call_id=c.id)
                for i, c in enumerate(turn.calls)
            }
        else:
            yield turn.text or ""

    model = ScriptedModel(fn, stream_function=stream)
    model.requests = []
    return model
