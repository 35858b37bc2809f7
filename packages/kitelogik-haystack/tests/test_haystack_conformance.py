"""The adapter conformance kit, run through Haystack's real agent loop (``Agent.run`` /
``Agent.run_async`` with a scripted ``MockChatGenerator``); escalations wait for the gate's
approver inside the confirmation strategy."""

from __future__ import annotations

from haystack.components.agents import Agent
from haystack.dataclasses import ChatMessage
from haystack.tools import Tool
from kitelogik.testing.conformance import AdapterConformance, Harness, Transcript
from kitelogik_haystack import Kitelogik
from kitelogik_haystack.testing import scripted_generator


def haystack_tools(h: Harness, *, is_async: bool) -> list[Tool]:
    return [
        Tool(
            name=t.name,
            description=t.description,
            parameters=dict(t.parameters),
            function=None if is_async else t.fn,
            async_function=t.afn if is_async else None,
        )
        for t in h.tools
    ]


class TestHaystackConformance(AdapterConformance):
    approval_style = "inline"

    def build(self, h: Harness, *, is_async: bool) -> tuple[Agent, Kitelogik]:
        kitelogik = Kitelogik(h.gate, context=h.context)
        agent = Agent(
            chat_generator=scripted_generator(h.script),
            tools=kitelogik.tools(haystack_tools(h, is_async=is_async)),
            hooks=kitelogik.hooks(),
        )
        return agent, kitelogik

    def run(self, h: Harness) -> Transcript:
        agent, kitelogik = self.build(h, is_async=False)
        out = agent.run(messages=[ChatMessage.from_user("go")])
        assert kitelogik.pending() == 0
        return Transcript(seen=agent.chat_generator.seen(), final=out["last_message"].text)  # type: ignore[attr-defined]

    async def arun(self, h: Harness) -> Transcript:
        agent, kitelogik = self.build(h, is_async=True)
        out = await agent.run_async(messages=[ChatMessage.from_user("go")])
        assert kitelogik.pending() == 0
        return Transcript(seen=agent.chat_generator.seen(), final=out["last_message"].text)  # type: ignore[attr-defined]
