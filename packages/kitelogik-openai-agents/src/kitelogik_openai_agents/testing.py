"""Scripted-model helpers for tests and offline examples (no network, no API key).

``agents.testing.ScriptedModel`` (openai-agents 0.21+) answers each model request with the next
scripted step; :func:`scripted_model` builds one from kitelogik's :class:`Turn` script (plus
trailing final answers, so a loop ends instead of failing), and :func:`seen` reads back what the
model received as each tool call's result.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from agents.testing import ScriptedModel, assistant_message, function_call
from kitelogik.testing.scenarios import Turn

__all__ = ["scripted_model", "seen", "step"]


def step(turn: Turn) -> list[Any]:
    """One model response for ``turn``: its tool calls (several = parallel calls) or its text."""
    if turn.calls:
        return [function_call(c.name, dict(c.args), call_id=c.id) for c in turn.calls]
    return [assistant_message(turn.text or "")]


def scripted_model(turns: Iterable[Turn], *, final_text: str = "done", spare: int = 8) -> Any:
    """A ``ScriptedModel`` answering ``turns`` in order, then ``final_text`` (``spare`` times)."""
    steps = [step(t) for t in turns]
    steps += [[assistant_message(final_text)] for _ in range(spare)]
    return ScriptedModel(steps)


def _text(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in output)
    return json.dumps(output)


def seen(model: Any) -> dict[str, str]:
    """Tool results by call id, as the model received them in its requests."""
    out: dict[str, str] = {}
    for call in model.calls:
        items = call.input if isinstance(call.input, list) else []
        for it in items:
            if isinstance(it, dict) and it.get("type") == "function_call_output":
                out[str(it.get("call_id"))] = _text(it.get("output"))
    return out
