"""plugin_llama_index / plugin_llama_index_baseline: one tool call through LlamaIndex's real
FunctionAgent workflow (a scripted MockFunctionCallingLLM), with the tool governed by
govern_tools and without. The difference is what governance adds per tool call (kit policy,
embedded Rego engine, no audit sink). A run costs milliseconds of workflow machinery, so
``plugin_llama_index_hook`` / ``_hook_baseline`` time the governed tool alone (``acall`` as the
agent calls it, async tool body) against the inner tool. Runs in the plugin's environment:
scripts/bench-plugins.sh (make bench)."""

from __future__ import annotations

import asyncio
from typing import Any


def scenarios() -> dict[str, Any]:
    try:
        from kitelogik_llama_index import govern_tools
        from kitelogik_llama_index.testing import ScriptedLLM
        from llama_index.core.agent.workflow import FunctionAgent
        from llama_index.core.tools import FunctionTool
    except ImportError:
        return {}
    from kitelogik.gate import PolicyGate
    from kitelogik.testing.fakes import kit_engine
    from kitelogik.testing.scenarios import Call, Turn

    def lookup(key: str) -> str:
        """Look up a key."""
        return f"value-of-{key}"

    turns = [Turn(calls=(Call("lookup", {"key": "a"}, "c1"),)), Turn(text="done")]

    def factory(governed: bool) -> Any:
        tools: list[Any] = [FunctionTool.from_defaults(fn=lookup)]
        if governed:
            tools = govern_tools(tools, PolicyGate(kit_engine(), audit=None))
        loop = asyncio.new_event_loop()

        async def once() -> None:
            model = ScriptedLLM(turns)
            agent = FunctionAgent(tools=tools, llm=model.llm, streaming=False)
            await agent.run(user_msg="go")
            assert model.seen()["c1"] == "value-of-a"

        def op() -> None:
            loop.run_until_complete(once())

        return op, loop.close, 300

    async def alookup(key: str) -> str:
        """Look up a key."""
        return f"value-of-{key}"

    def hook_factory(governed: bool) -> Any:
        inner = FunctionTool.from_defaults(async_fn=alookup, name="lookup")
        tool = govern_tools([inner], PolicyGate(kit_engine(), audit=None))[0] if governed else inner
        loop = asyncio.new_event_loop()

        def op() -> None:
            out = loop.run_until_complete(tool.acall(key="a"))
            assert out.content == "value-of-a"

        return op, loop.close, 3000

    return {
        "plugin_llama_index": lambda: factory(True),
        "plugin_llama_index_baseline": lambda: factory(False),
        "plugin_llama_index_hook": lambda: hook_factory(True),
        "plugin_llama_index_hook_baseline": lambda: hook_factory(False),
    }
