"""plugin_pydantic_ai / plugin_pydantic_ai_baseline: one tool call through PydanticAI's real agent
loop (``Agent.run``: a model turn with one tool call, the tool, a model turn with the answer; a
stateless scripted FunctionModel), with and without ``KitelogikCapability``. The difference is
what governance adds per tool call (kit policy, embedded Rego engine, no audit sink).
``plugin_pydantic_ai_hook`` / ``_hook_baseline``: ``KitelogikToolset.call_tool`` alone on one
call versus the wrapped toolset's ``call_tool`` (tool body stubbed). Runs in the plugin's
environment: scripts/bench-plugins.sh (make bench)."""

from __future__ import annotations

import asyncio
from typing import Any


def scenarios() -> dict[str, Any]:
    try:
        from kitelogik_pydantic_ai import KitelogikCapability, KitelogikToolset
        from pydantic_ai import Agent
        from pydantic_ai.messages import (
            ModelRequest,
            ModelResponse,
            TextPart,
            ToolCallPart,
            ToolReturnPart,
        )
        from pydantic_ai.models.function import FunctionModel
    except ImportError:
        return {}
    from kitelogik.events import SessionContext
    from kitelogik.gate import PolicyGate
    from kitelogik.testing.fakes import kit_engine

    ctx = SessionContext(session_id="bench", agent_id="a1")

    def one_call(messages: list[Any], info: Any) -> ModelResponse:
        last = messages[-1]
        if isinstance(last, ModelRequest) and any(
            isinstance(p, ToolReturnPart) for p in last.parts
        ):
            return ModelResponse(parts=[TextPart("done")])
        return ModelResponse(parts=[ToolCallPart("lookup", {"key": "a"}, "c1")])

    def lookup(key: str) -> str:
        """Look up a key."""
        return f"value-of-{key}"

    def loop(governed: bool) -> Any:
        caps = (
            [KitelogikCapability(PolicyGate(kit_engine(), audit=None), context=ctx)]
            if governed
            else []
        )
        agent = Agent(FunctionModel(one_call), tools=[lookup], capabilities=caps)
        ev = asyncio.new_event_loop()

        def op() -> None:
            assert ev.run_until_complete(agent.run("go")).output == "done"

        return op, ev.close, 1000

    def hook(governed: bool) -> Any:
        class Stub:
            async def call_tool(self, name: str, args: Any, run_ctx: Any, tool: Any) -> str:
                return "value-of-a"

        class RunCtx:
            tool_call_id = "c1"
            tool_call_approved = False

        stub: Any = Stub()
        toolset = KitelogikToolset(stub, PolicyGate(kit_engine(), audit=None), context=ctx)
        target = toolset if governed else stub
        ev = asyncio.new_event_loop()

        def op() -> None:
            out = ev.run_until_complete(target.call_tool("lookup", {"key": "a"}, RunCtx(), None))
            assert out == "value-of-a"

        return op, ev.close, 5000

    return {
        "plugin_pydantic_ai": lambda: loop(True),
        "plugin_pydantic_ai_baseline": lambda: loop(False),
        "plugin_pydantic_ai_hook": lambda: hook(True),
        "plugin_pydantic_ai_hook_baseline": lambda: hook(False),
    }
