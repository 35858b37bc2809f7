"""plugin_semantic_kernel / plugin_semantic_kernel_baseline: one tool call through Semantic
Kernel's real auto-function-invocation loop (a scripted chat completion service), with and
without KitelogikFilter (both filter types registered). The difference is what governance adds
per tool call (kit policy, embedded Rego engine, no audit sink). ``plugin_semantic_kernel_hook``
/ ``_hook_baseline`` time one call through the kernel's auto-function-invocation path
(``Kernel.invoke_function_call``: both filter stacks and the function) with and without the
filter, without the chat service. Runs in the plugin's environment: scripts/bench-plugins.sh
(make bench)."""

from __future__ import annotations

import asyncio
from typing import Any


def scenarios() -> dict[str, Any]:
    try:
        from kitelogik_semantic_kernel import KitelogikFilter
        from kitelogik_semantic_kernel.testing import ScriptedChatCompletion
        from semantic_kernel import Kernel
        from semantic_kernel.connectors.ai.function_choice_behavior import (
            FunctionChoiceBehavior,
        )
        from semantic_kernel.connectors.ai.prompt_execution_settings import (
            PromptExecutionSettings,
        )
        from semantic_kernel.contents import ChatHistory
        from semantic_kernel.functions import kernel_function
    except ImportError:
        return {}
    from kitelogik.gate import PolicyGate
    from kitelogik.testing.fakes import kit_engine
    from kitelogik.testing.scenarios import Call, Turn

    class Kit:
        @kernel_function(name="lookup", description="Look up a key.")
        def lookup(self, key: str) -> str:
            return f"value-of-{key}"

    turns = [Turn(calls=(Call("lookup", {"key": "a"}, "c1"),)), Turn(text="done")]
    settings = PromptExecutionSettings(function_choice_behavior=FunctionChoiceBehavior.Auto())

    def factory(governed: bool) -> Any:
        service = ScriptedChatCompletion.from_turns(turns)
        kernel = Kernel()
        kernel.add_service(service)
        kernel.add_plugin(Kit(), plugin_name="kit")
        if governed:
            KitelogikFilter(PolicyGate(kit_engine(), audit=None)).register(kernel)
        loop = asyncio.new_event_loop()

        async def once() -> None:
            service.requests.clear()
            history = ChatHistory()
            history.add_user_message("go")
            await service.get_chat_message_content(history, settings, kernel=kernel)
            assert service.seen()["c1"] == "value-of-a"

        def op() -> None:
            loop.run_until_complete(once())

        return op, loop.close, 1000

    from semantic_kernel.contents import FunctionCallContent

    def hook_factory(governed: bool) -> Any:
        kernel = Kernel()
        kernel.add_plugin(Kit(), plugin_name="kit")
        if governed:
            KitelogikFilter(PolicyGate(kit_engine(), audit=None)).register(kernel)
        call = FunctionCallContent(
            id="c1", plugin_name="kit", function_name="lookup", arguments='{"key": "a"}'
        )
        loop = asyncio.new_event_loop()

        async def once() -> None:
            history = ChatHistory()
            await kernel.invoke_function_call(call, history)
            assert str(history.messages[-1].items[0].result) == "value-of-a"

        def op() -> None:
            loop.run_until_complete(once())

        return op, loop.close, 3000

    return {
        "plugin_semantic_kernel": lambda: factory(True),
        "plugin_semantic_kernel_baseline": lambda: factory(False),
        "plugin_semantic_kernel_hook": lambda: hook_factory(True),
        "plugin_semantic_kernel_hook_baseline": lambda: hook_factory(False),
    }
