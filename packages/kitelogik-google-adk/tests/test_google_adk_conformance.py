"""The adapter conformance kit, run through Google ADK's real agent loop (``Runner.run`` /
``Runner.run_async`` of an ``InMemoryRunner`` with a scripted ``BaseLlm``), with both
escalation styles: the gate's approver inside the callback, and ADK's tool confirmation
(``adk_request_confirmation``) resumed with the human's bound answer."""

from __future__ import annotations

import asyncio
from typing import Any

from google.adk.agents import LlmAgent
from google.adk.apps import App
from google.adk.runners import InMemoryRunner
from google.adk.tools import FunctionTool
from google.genai import types
from kitelogik.testing.conformance import AdapterConformance, Harness, Transcript
from kitelogik_google_adk import KitelogikPlugin
from kitelogik_google_adk.testing import scripted_llm

APP = "kit"


def adk_tools(h: Harness, *, is_async: bool) -> list[FunctionTool]:
    out = []
    for t in h.tools:
        tool = FunctionTool(t.afn if is_async else t.fn)
        tool.name = t.name
        out.append(tool)
    return out


def user(text: str) -> types.Content:
    return types.Content(role="user", parts=[types.Part(text=text)])


class _ADK(AdapterConformance):
    def build(self, h: Harness, *, is_async: bool) -> tuple[InMemoryRunner, KitelogikPlugin]:
        plugin = KitelogikPlugin(h.gate, context=h.context)
        agent = LlmAgent(
            name="kit_agent",
            model=scripted_llm(h.script),
            instruction="Use the tools.",
            tools=adk_tools(h, is_async=is_async),  # type: ignore[arg-type]
        )
        return InMemoryRunner(app=App(name=APP, root_agent=agent, plugins=[plugin])), plugin

    def answers(self, h: Harness, events: list[Any]) -> dict[str, Any]:
        return {
            rid: h.approve(req) for rid, req in KitelogikPlugin.approval_requests(events).items()
        }

    def run(self, h: Harness) -> Transcript:
        runner, plugin = self.build(h, is_async=False)
        session = asyncio.run(runner.session_service.create_session(app_name=APP, user_id="u"))
        message = user("go")
        for _ in range(5):
            events = list(runner.run(user_id="u", session_id=session.id, new_message=message))
            answers = self.answers(h, events)
            if not answers:
                break
            message = KitelogikPlugin.resume_message(answers)
        assert plugin.pending() == 0
        return Transcript(seen=runner.agent.model.seen())  # type: ignore[union-attr]

    async def arun(self, h: Harness) -> Transcript:
        runner, plugin = self.build(h, is_async=True)
        session = await runner.session_service.create_session(app_name=APP, user_id="u")
        message = user("go")
        for _ in range(5):
            events = [
                e
                async for e in runner.run_async(
                    user_id="u", session_id=session.id, new_message=message
                )
            ]
            answers = self.answers(h, events)
            if not answers:
                break
            message = KitelogikPlugin.resume_message(answers)
        assert plugin.pending() == 0
        return Transcript(seen=runner.agent.model.seen())  # type: ignore[union-attr]


class TestGoogleADKInterruptConformance(_ADK):
    """Escalation by ADK's tool confirmation, resumed with the bound answer."""

    approval_style = "interrupt"


class TestGoogleADKApproverConformance(_ADK):
    """Escalation waiting for the gate's approver inside the callback."""

    approval_style = "inline"
