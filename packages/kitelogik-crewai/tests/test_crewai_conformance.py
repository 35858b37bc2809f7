"""The adapter conformance kit, run through CrewAI's real crew loop (Crew.kickoff, sync, and
Crew.akickoff, async) with a scripted BaseLLM making native tool calls, and KitelogikHooks
registered for the execution (scoped hooks). Escalations wait for the gate's approver inside
the hook (CrewAI has no pause/resume for a tool call)."""

from __future__ import annotations

from typing import Any

from crewai import Agent, Crew, Task
from crewai.tools import tool
from kitelogik.testing.conformance import AdapterConformance, Harness, Transcript
from kitelogik_crewai import KitelogikHooks
from kitelogik_crewai.testing import ScriptedLLM


def crew_tools(h: Harness) -> list[Any]:
    return [tool(t.name)(t.fn) for t in h.tools]


def make_crew(h: Harness, llm: ScriptedLLM) -> Crew:
    agent = Agent(
        role="kit agent",
        goal="use the tools",
        backstory="a test agent",
        llm=llm,
        tools=crew_tools(h),
        allow_delegation=False,
        max_iter=8,
    )
    task = Task(description="go", expected_output="done", agent=agent)
    return Crew(agents=[agent], tasks=[task])


class TestCrewAIConformance(AdapterConformance):
    approval_style = "inline"

    def run(self, h: Harness) -> Transcript:
        llm = ScriptedLLM.from_turns(h.script)
        with KitelogikHooks(h.gate, context=h.context).scoped():
            out = make_crew(h, llm).kickoff()
        return Transcript(seen=llm.seen(), final=out.raw)

    async def arun(self, h: Harness) -> Transcript:
        llm = ScriptedLLM.from_turns(h.script)
        with KitelogikHooks(h.gate, context=h.context).scoped():
            out = await make_crew(h, llm).akickoff()
        return Transcript(seen=llm.seen(), final=out.raw)


class TestCrewAIGlobalHooksConformance(TestCrewAIConformance):
    """The same through the process-global registration (installed(), kickoff_async)."""

    def run(self, h: Harness) -> Transcript:
        llm = ScriptedLLM.from_turns(h.script)
        with KitelogikHooks(h.gate, context=h.context).installed():
            out = make_crew(h, llm).kickoff()
        return Transcript(seen=llm.seen(), final=out.raw)

    async def arun(self, h: Harness) -> Transcript:
        llm = ScriptedLLM.from_turns(h.script)
        with KitelogikHooks(h.gate, context=h.context).installed():
            out = await make_crew(h, llm).kickoff_async()
        return Transcript(seen=llm.seen(), final=out.raw)
