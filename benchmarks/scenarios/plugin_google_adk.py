"""plugin_google_adk / plugin_google_adk_baseline: one tool call through Google ADK's real agent
loop (``Runner.run_async`` of an ``InMemoryRunner``: model turn with one tool call, the tool,
model turn with the answer) with a stateless scripted ``BaseLlm``, with and without
``KitelogikPlugin``. The difference is what governance adds per tool call (kit policy, embedded
Rego engine, no audit sink). ``plugin_google_adk_hook`` / ``_hook_baseline``: the plugin's
before- and after-tool callbacks alone on one call.

Runs in the plugin's environment: scripts/bench-plugins.sh (make bench).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any


def scenarios() -> dict[str, Any]:
    os.environ.setdefault("OTEL_SDK_DISABLED", "true")
    try:
        from google.adk.agents import LlmAgent
        from google.adk.apps import App
        from google.adk.runners import InMemoryRunner
        from google.adk.tools import FunctionTool
        from google.genai import types
        from kitelogik_google_adk import KitelogikPlugin
        from kitelogik_google_adk.testing import scripted_llm
    except ImportError:  # not this environment
        return {}
    from kitelogik.gate import PolicyGate
    from kitelogik.testing.fakes import kit_engine
    from kitelogik.testing.scenarios import Call, Turn

    def lookup(key: str) -> str:
        """Look up a key."""
        return f"value-of-{key}"

    message = types.Content(role="user", parts=[types.Part(text="go")])

    def factory(governed: bool) -> Any:
        llm = scripted_llm([Turn(calls=(Call("lookup", {"key": "a"}, "c1"),))])
        agent = LlmAgent(name="bench", model=llm, instruction="x", tools=[lookup])
        plugins = [KitelogikPlugin(PolicyGate(kit_engine(), audit=None))] if governed else []
        runner = InMemoryRunner(app=App(name="bench", root_agent=agent, plugins=plugins))
        loop = asyncio.new_event_loop()

        async def once() -> None:
            session = await runner.session_service.create_session(app_name="bench", user_id="u")
            async for _ in runner.run_async(
                user_id="u", session_id=session.id, new_message=message
            ):
                pass

        def op() -> None:
            llm.requests.clear()
            loop.run_until_complete(once())
            assert llm.seen() == {"c1": "value-of-a"}, llm.seen()

        return op, loop.close, 1000

    def hook(governed: bool) -> Any:
        plugin = KitelogikPlugin(PolicyGate(kit_engine(), audit=None))
        tool = FunctionTool(lookup)
        loop = asyncio.new_event_loop()

        class Ctx:
            function_call_id = "c1"
            tool_confirmation = None
            invocation_id = "inv"

        ctx = Ctx()

        async def governed_call() -> None:
            args = {"key": "a"}
            assert (
                await plugin.before_tool_callback(tool=tool, tool_args=args, tool_context=ctx)
                is None
            )
            result = {"result": lookup(**args)}
            await plugin.after_tool_callback(
                tool=tool, tool_args=args, tool_context=ctx, result=result
            )

        async def plain_call() -> None:
            args = {"key": "a"}
            {"result": lookup(**args)}

        def op() -> None:
            loop.run_until_complete(governed_call() if governed else plain_call())

        return op, loop.close, 3000

    return {
        "plugin_google_adk": lambda: factory(True),
        "plugin_google_adk_baseline": lambda: factory(False),
        "plugin_google_adk_hook": lambda: hook(True),
        "plugin_google_adk_hook_baseline": lambda: hook(False),
    }
