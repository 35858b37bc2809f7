"""A scripted ADK model for tests and offline examples (no network, no API key).

:class:`ScriptedLlm` is a ``BaseLlm`` answering a kitelogik :class:`Turn` script statelessly:
the next turn is the first whose calls have not all been answered in the request's contents,
so one model serves many runs and a resumed run picks up where it paused. Every request is kept
so :meth:`ScriptedLlm.seen` can read back what the model received for each call.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.genai import types
from kitelogik.testing.scenarios import Turn

__all__ = ["ScriptedLlm", "result_text", "scripted_llm"]


def result_text(response: Any) -> str:
    """A function response as text: its ``result`` / ``error`` string, else JSON."""
    if isinstance(response, dict):
        for key in ("result", "error"):
            if isinstance(response.get(key), str) and len(response) == 1:
                return response[key]
    return json.dumps(response, ensure_ascii=False, default=str)


def _responses(request: LlmRequest) -> dict[str, str]:
    out: dict[str, str] = {}
    for content in request.contents or []:
        for part in content.parts or []:
            fr = part.function_response
            if fr is not None and fr.id:
                out[fr.id] = result_text(fr.response)
    return out


_USAGE = types.GenerateContentResponseUsageMetadata(
    prompt_token_count=0, candidates_token_count=0, total_token_count=0
)


class ScriptedLlm(BaseLlm):
    script: list[Any] = []
    final_text: str = "done"
    requests: list[LlmRequest] = []

    def seen(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for request in self.requests:
            out.update(_responses(request))
        return out

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        self.requests.append(llm_request)
        answered = set(_responses(llm_request))
        text = self.final_text
        for turn in self.script:
            if turn.calls and not all(c.id in answered for c in turn.calls):
                parts = [
                    types.Part(
                        function_call=types.FunctionCall(id=c.id, name=c.name, args=dict(c.args))
                    )
                    for c in turn.calls
                ]
                yield LlmResponse(
                    content=types.Content(role="model", parts=parts), usage_metadata=_USAGE
                )
                return
            if not turn.calls:
                text = turn.text or self.final_text
                break
        yield LlmResponse(
            content=types.Content(role="model", parts=[types.Part(text=text)]),
            usage_metadata=_USAGE,
        )


def scripted_llm(turns: Sequence[Turn], *, final_text: str = "done") -> ScriptedLlm:
    return ScriptedLlm(model="scripted", script=list(turns), final_text=final_text, requests=[])
