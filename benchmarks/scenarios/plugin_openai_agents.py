"""plugin_openai_agents / plugin_openai_agents_baseline: one tool call through the OpenAI Agents
SDK's real agent loop (``Runner.run``: a model turn with one tool call, the tool, a model turn
with the answer; a stateless scripted model), with and without ``KitelogikGuardrail`` (tool input
guardrail, governed ``on_invoke_tool``, ``needs_approval``). The difference is what governance
adds per tool call (kit policy, embedded Rego engine, no audit sink).
``plugin_openai_agents_hook`` / ``_hook_baseline``: the three hooks alone on one call, as the SDK
calls them (tool body stubbed). Runs in the plugin's environment: scripts/bench-plugins.sh
(make bench)."""

from __future__ import annotations

import asyncio
from typing import Any

ARGS = '{"key": "a"}'


def scenarios() -> dict[str, Any]:
    try:
        from agents import (
            Agent,
            FunctionTool,
            Runner,
            ToolInputGuardrailData,
            function_tool,
            set_tracing_disabled,
        )
        from agents.items import ModelResponse
        from agents.models.interface import Model
        from agents.tool_context import ToolContext
        from agents.usage import Usage
        from kitelogik_openai_agents import KitelogikGuardrail
        from openai.types.responses import (
            ResponseFunctionToolCall,
            ResponseOutputMessage,
            ResponseOutputText,
        )
    except ImportError:
        return {}
    from kitelogik.events import SessionContext
    from kitelogik.gate import PolicyGate
    from kitelogik.testing.fakes import kit_engine

    set_tracing_disabled(True)
    ctx = SessionContext(session_id="bench", agent_id="a1")
    call = ResponseFunctionToolCall(
        type="function_call", name="lookup", arguments=ARGS, call_id="c1", id="fc_1"
    )
    text = ResponseOutputText(type="output_text", text="done", annotations=[])
    answer = ResponseOutputMessage(
        id="msg_1", type="message", role="assistant", status="completed", content=[text]
    )

    class OneCall(Model):
        """Calls lookup once, then answers (stateless: decided by the input)."""

        async def get_response(
            self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any
        ) -> ModelResponse:
            last = input[-1] if isinstance(input, list) and input else None
            done = isinstance(last, dict) and last.get("type") == "function_call_output"
            return ModelResponse(output=[answer if done else call], usage=Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

    @function_tool
    def lookup(key: str) -> str:
        """Look up a key."""
        return f"value-of-{key}"

    def loop(governed: bool) -> Any:
        agent: Any = Agent(name="bench", tools=[lookup], model=OneCall())
        if governed:
            agent = KitelogikGuardrail(PolicyGate(kit_engine(), audit=None), context=ctx).govern(
                agent
            )
        ev = asyncio.new_event_loop()

        def op() -> None:
            result = ev.run_until_complete(Runner.run(agent, "go"))
            assert result.final_output == "done"

        return op, ev.close, 1000

    def hook(governed: bool) -> Any:
        async def body(tc: Any, raw: str) -> str:
            return "value-of-a"

        stub = FunctionTool(
            name="lookup", description="", params_json_schema={}, on_invoke_tool=body
        )
        guard = KitelogikGuardrail(PolicyGate(kit_engine(), audit=None), context=ctx)
        tool = guard.tool(stub)
        [guardrail] = tool.tool_input_guardrails or []
        tc = ToolContext(context=None, tool_name="lookup", tool_call_id="c1", tool_arguments=ARGS)
        data = ToolInputGuardrailData(context=tc, agent=Agent(name="bench"))
        ev = asyncio.new_event_loop()

        async def governed_call() -> Any:
            assert not await tool.needs_approval(None, {"key": "a"}, "c1")  # type: ignore[operator]
            await guardrail.run(data)
            return await tool.on_invoke_tool(tc, ARGS)

        async def plain_call() -> Any:
            return await stub.on_invoke_tool(tc, ARGS)

        def op() -> None:
            assert ev.run_until_complete(governed_call() if governed else plain_call()) == (
                "value-of-a"
            )

        return op, ev.close, 5000

    return {
        "plugin_openai_agents": lambda: loop(True),
        "plugin_openai_agents_baseline": lambda: loop(False),
        "plugin_openai_agents_hook": lambda: hook(True),
        "plugin_openai_agents_hook_baseline": lambda: hook(False),
    }
