"""The adapter conformance kit, run through Semantic Kernel's real auto-function-invocation loop
(a chat completion service with a scripted model, streaming or not, and ChatCompletionAgent)
with KitelogikFilter registered on the kernel. Semantic Kernel's Python SDK is async only."""

from __future__ import annotations

from typing import Any

from kitelogik.testing.conformance import AdapterConformance, Harness, Transcript
from kitelogik_semantic_kernel import KitelogikFilter
from kitelogik_semantic_kernel.testing import ScriptedChatCompletion
from semantic_kernel import Kernel
from semantic_kernel.agents import ChatCompletionAgent
from semantic_kernel.connectors.ai.function_choice_behavior import FunctionChoiceBehavior
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import ChatHistory
from semantic_kernel.functions import KernelFunctionFromMethod, KernelPlugin, kernel_function

ASYNC_ONLY = {"sync": "Semantic Kernel's Python SDK has no synchronous agent loop"}


def kit_kernel(h: Harness, service: ScriptedChatCompletion, *, use_async: bool = True) -> Kernel:
    kernel = Kernel()
    kernel.add_service(service)
    functions = [
        KernelFunctionFromMethod(
            method=kernel_function(
                t.afn if use_async else t.fn, name=t.name, description=t.description
            ),
            plugin_name="kit",
        )
        for t in h.tools
    ]
    kernel.add_plugin(KernelPlugin(name="kit", functions=functions))
    KitelogikFilter(h.gate, context=h.context).register(kernel)
    return kernel


def settings() -> PromptExecutionSettings:
    return PromptExecutionSettings(function_choice_behavior=FunctionChoiceBehavior.Auto())


class TestSemanticKernelConformance(AdapterConformance):
    """ChatCompletionClientBase.get_chat_message_content with the kernel (auto-invoke)."""

    unsupported_modes = ASYNC_ONLY

    def run(self, h: Harness) -> Transcript:  # pragma: no cover - skipped (ASYNC_ONLY)
        raise NotImplementedError

    async def invoke(self, kernel: Kernel, service: ScriptedChatCompletion) -> Any:
        history = ChatHistory()
        history.add_user_message("go")
        return await service.get_chat_message_content(history, settings(), kernel=kernel)

    async def arun(self, h: Harness) -> Transcript:
        service = ScriptedChatCompletion.from_turns(h.script)
        kernel = kit_kernel(h, service)
        result = await self.invoke(kernel, service)
        return Transcript(seen=service.seen(), final=str(result))


class TestSemanticKernelStreamingConformance(TestSemanticKernelConformance):
    """get_streaming_chat_message_content: the streaming auto-invoke loop, sync tool bodies."""

    async def arun(self, h: Harness) -> Transcript:
        service = ScriptedChatCompletion.from_turns(h.script)
        kernel = kit_kernel(h, service, use_async=False)
        history = ChatHistory()
        history.add_user_message("go")
        text = ""
        async for chunk in service.get_streaming_chat_message_content(
            history, settings(), kernel=kernel
        ):
            text += str(chunk or "")
        return Transcript(seen=service.seen(), final=text)


class TestChatCompletionAgentConformance(TestSemanticKernelConformance):
    """ChatCompletionAgent.get_response, on a clone of the governed kernel (Kernel.clone())."""

    async def arun(self, h: Harness) -> Transcript:
        service = ScriptedChatCompletion.from_turns(h.script)
        kernel = kit_kernel(h, service).clone()
        agent = ChatCompletionAgent(
            kernel=kernel,
            name="kit_agent",
            instructions="use the tools",
            function_choice_behavior=FunctionChoiceBehavior.Auto(),
        )
        response = await agent.get_response(messages="go")
        return Transcript(seen=service.seen(), final=str(response.content))
