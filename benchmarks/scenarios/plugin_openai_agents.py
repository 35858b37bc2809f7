"""kitelogik-openai-agents: one tool call through the OpenAI Agents SDK's real agent loop
(``Runner.run``: model turn with one tool call, the tool, model turn with the answer) with a
stateless scripted model, governed by ``KitelogikGuardrail`` (tool input guardrail, governed
``on_invoke_tool``, ``needs_approval``) on the 60-rule benchmark policy, and the same loop
without the plugin. The difference of the two p50s is what governance adds per tool call.

Only available in the plugin's environment: ``scripts/plugin-env.sh openai-agents --bench``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

POLICY = Path(__file__).resolve().parents[1] / "policy"


def _setup(governed: bool) -> Any:
    from agents import Agent, Runner, function_tool, set_tracing_disabled
    from agents.items import ModelResponse
    from agents.models.interface import Model
    from agents.usage import Usage
    from kitelogik import PolicyGate, RegoEngine, SessionContext
    from kitelogik_openai_agents import KitelogikGuardrail
    from openai.types.responses import (
        ResponseFunctionToolCall,
        ResponseOutputMessage,
        ResponseOutputText,
    )

    set_tracing_disabled(True)
    call = ResponseFunctionToolCall(
        type="function_call",
        name="read_file",
        arguments='{"path": "/srv/workspace/a.txt"}',
        call_id="call_1",
        id="fc_1",
    )
    answer = ResponseOutputMessage(
        id="msg_1",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text="done", annotations=[])],
    )

    class OneCall(Model):
        """Calls read_file once, then answers (stateless: decided by the input)."""

        async def get_response(
            self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any
        ) -> ModelResponse:
            last = input[-1] if isinstance(input, list) and input else None
            done = isinstance(last, dict) and last.get("type") == "function_call_output"
            return ModelResponse(output=[answer if done else call], usage=Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

    ran: list[str] = []

    @function_tool
    def read_file(path: str) -> str:
        """Read a file."""
        ran.append(path)
        return "contents"

    agent: Any = Agent(name="bench", tools=[read_file], model=OneCall())
    gate = PolicyGate(engine=RegoEngine(policy_dirs=[POLICY]), audit=None, resolve_symlinks=False)
    ctx = SessionContext(
        session_id="bench", agent_id="a1", user_role="engineer", session_scopes=["fs:read"]
    )
    if governed:
        agent = KitelogikGuardrail(gate, context=ctx).govern(agent)
    loop = asyncio.new_event_loop()

    def op() -> Any:
        return loop.run_until_complete(Runner.run(agent, "go"))

    result = op()
    if ran != ["/srv/workspace/a.txt"] or result.final_output != "done":
        raise SystemExit(f"plugin_openai_agents: the tool did not run once ({ran})")
    return op, loop.close, 2000


def scenarios() -> dict[str, Any]:
    try:
        import agents  # noqa: F401
        import kitelogik_openai_agents  # noqa: F401
    except ImportError:  # not this environment (see the module docstring)
        return {}
    return {
        "plugin_openai_agents": lambda: _setup(True),
        "plugin_openai_agents_baseline": lambda: _setup(False),
    }
