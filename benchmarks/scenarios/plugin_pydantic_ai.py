"""kitelogik-pydantic-ai: one tool call through PydanticAI's real agent loop (``Agent.run``:
model turn with one tool call, the tool, model turn with the answer) with a stateless scripted
``FunctionModel``, governed by ``KitelogikCapability`` on the 60-rule benchmark policy, and the
same loop without the plugin. The difference of the two p50s is what governance adds per call.

Only available in the plugin's environment: ``scripts/plugin-env.sh pydantic-ai --bench``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

POLICY = Path(__file__).resolve().parents[1] / "policy"


def _setup(governed: bool) -> Any:
    from kitelogik import PolicyGate, RegoEngine, SessionContext
    from kitelogik_pydantic_ai import KitelogikCapability
    from pydantic_ai import Agent
    from pydantic_ai.messages import (
        ModelRequest,
        ModelResponse,
        TextPart,
        ToolCallPart,
        ToolReturnPart,
    )
    from pydantic_ai.models.function import FunctionModel

    def one_call(messages: list[Any], info: Any) -> ModelResponse:
        last = messages[-1]
        if isinstance(last, ModelRequest) and any(
            isinstance(p, ToolReturnPart) for p in last.parts
        ):
            return ModelResponse(parts=[TextPart("done")])
        return ModelResponse(
            parts=[ToolCallPart("read_file", {"path": "/srv/workspace/a.txt"}, "call_1")]
        )

    ran: list[str] = []

    def read_file(path: str) -> str:
        """Read a file."""
        ran.append(path)
        return "contents"

    gate = PolicyGate(engine=RegoEngine(policy_dirs=[POLICY]), audit=None, resolve_symlinks=False)
    ctx = SessionContext(
        session_id="bench", agent_id="a1", user_role="engineer", session_scopes=["fs:read"]
    )
    caps = [KitelogikCapability(gate, context=ctx)] if governed else []
    agent = Agent(FunctionModel(one_call), tools=[read_file], capabilities=caps)
    loop = asyncio.new_event_loop()

    def op() -> Any:
        return loop.run_until_complete(agent.run("go"))

    result = op()
    if ran != ["/srv/workspace/a.txt"] or result.output != "done":
        raise SystemExit(f"plugin_pydantic_ai: the tool did not run once ({ran})")
    return op, loop.close, 2000


def scenarios() -> dict[str, Any]:
    try:
        import kitelogik_pydantic_ai  # noqa: F401
        import pydantic_ai  # noqa: F401
    except ImportError:  # not this environment (see the module docstring)
        return {}
    return {
        "plugin_pydantic_ai": lambda: _setup(True),
        "plugin_pydantic_ai_baseline": lambda: _setup(False),
    }
