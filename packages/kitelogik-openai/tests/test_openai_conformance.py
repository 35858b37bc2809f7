"""The adapter conformance kit through the real OpenAI SDK (sync and async clients, Chat
Completions and Responses) over a scripted model served by httpx.MockTransport: the SDK's own
request building and response parsing run unchanged."""

from __future__ import annotations

from typing import Any

import httpx
from kitelogik.testing.conformance import AdapterConformance, Harness, Transcript
from kitelogik.testing.scripted import ScriptedOpenAI
from kitelogik_openai import GovernedTools
from openai import AsyncOpenAI, OpenAI

BASE = "http://scripted.invalid/v1"


def tools_for(h: Harness, *, is_async: bool) -> GovernedTools:
    tools = GovernedTools(h.gate, context=h.context)
    for t in h.tools:
        tools.register(t.afn if is_async else t.fn, name=t.name, description=t.description)
    return tools


def client(model: ScriptedOpenAI) -> OpenAI:
    http = httpx.Client(transport=httpx.MockTransport(model.handler))
    return OpenAI(api_key="sk-test", base_url=BASE, http_client=http, max_retries=0)


def aclient(model: ScriptedOpenAI) -> AsyncOpenAI:
    http = httpx.AsyncClient(transport=httpx.MockTransport(model.handler))
    return AsyncOpenAI(api_key="sk-test", base_url=BASE, http_client=http, max_retries=0)


class TestChatCompletionsConformance(AdapterConformance):
    def run(self, h: Harness) -> Transcript:
        model = ScriptedOpenAI(h.script)
        tools = tools_for(h, is_async=False)
        messages: list[Any] = [{"role": "user", "content": "go"}]
        r = tools.run_chat(client(model), model="kit-model", messages=messages)
        return Transcript(seen=model.seen(), final=r.choices[0].message.content)

    async def arun(self, h: Harness) -> Transcript:
        model = ScriptedOpenAI(h.script)
        tools = tools_for(h, is_async=True)
        messages: list[Any] = [{"role": "user", "content": "go"}]
        r = await tools.arun_chat(aclient(model), model="kit-model", messages=messages)
        return Transcript(seen=model.seen(), final=r.choices[0].message.content)


class TestResponsesConformance(AdapterConformance):
    def run(self, h: Harness) -> Transcript:
        model = ScriptedOpenAI(h.script)
        tools = tools_for(h, is_async=False)
        c = client(model)
        items: list[Any] = [{"role": "user", "content": "go"}]
        for _ in range(10):
            r = c.responses.create(model="kit-model", input=items, tools=tools.responses_tools())
            items += [it.model_dump(exclude_none=True) for it in r.output]
            results = tools.execute(r)
            if not results:
                break
            items += results
        return Transcript(seen=model.seen(), final=r.output_text)

    async def arun(self, h: Harness) -> Transcript:
        model = ScriptedOpenAI(h.script)
        tools = tools_for(h, is_async=True)
        c = aclient(model)
        items: list[Any] = [{"role": "user", "content": "go"}]
        for _ in range(10):
            r = await c.responses.create(
                model="kit-model", input=items, tools=tools.responses_tools()
            )
            items += [it.model_dump(exclude_none=True) for it in r.output]
            results = await tools.aexecute(r)
            if not results:
                break
            items += results
        return Transcript(seen=model.seen(), final=r.output_text)
