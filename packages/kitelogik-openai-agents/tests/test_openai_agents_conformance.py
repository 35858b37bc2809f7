"""The adapter conformance kit, run through the OpenAI Agents SDK's real agent loop
(``Runner.run_sync`` / ``Runner.run`` with ``agents.testing.ScriptedModel``), with both
escalation styles: the gate's approver inside the call, and ``needs_approval`` interruptions
settled on the ``RunState``."""

from __future__ import annotations

from typing import Any

from agents import Agent, FunctionTool, Runner, function_tool, set_tracing_disabled
from kitelogik.adapters import approval_answer
from kitelogik.testing.conformance import AdapterConformance, Harness, Transcript
from kitelogik_openai_agents import KitelogikGuardrail
from kitelogik_openai_agents.testing import scripted_model, seen

set_tracing_disabled(True)


def sdk_tools(h: Harness, *, is_async: bool) -> list[FunctionTool]:
    return [function_tool(t.afn if is_async else t.fn, name_override=t.name) for t in h.tools]


class _OpenAIAgents(AdapterConformance):
    def build(self, h: Harness, *, is_async: bool) -> tuple[Agent[Any], KitelogikGuardrail, Any]:
        model = scripted_model(h.script)
        guard = KitelogikGuardrail(h.gate, context=h.context)
        agent = Agent(
            name="kit", instructions="kit", tools=sdk_tools(h, is_async=is_async), model=model
        )
        return guard.govern(agent), guard, model

    def run(self, h: Harness) -> Transcript:
        agent, guard, model = self.build(h, is_async=False)
        result = Runner.run_sync(agent, "go")
        while result.interruptions:
            state = result.to_state()
            for item in result.interruptions:
                guard.resolve(state, item, approval_answer(h.approve(guard.approval_request(item))))
            result = Runner.run_sync(agent, state)
        assert guard.pending() == 0
        return Transcript(seen=seen(model), final=str(result.final_output))

    async def arun(self, h: Harness) -> Transcript:
        agent, guard, model = self.build(h, is_async=True)
        result = await Runner.run(agent, "go")
        while result.interruptions:
            state = result.to_state()
            for item in result.interruptions:
                request = guard.approval_request(item)
                await guard.aresolve(state, item, approval_answer(h.approve(request)))
            result = await Runner.run(agent, state)
        assert guard.pending() == 0
        return Transcript(seen=seen(model), final=str(result.final_output))


class TestOpenAIAgentsInterruptConformance(_OpenAIAgents):
    """Escalation by needs_approval interruptions and RunState approve/reject."""

    approval_style = "interrupt"


class TestOpenAIAgentsApproverConformance(_OpenAIAgents):
    """Escalation waiting for the gate's approver inside the guardrail."""

    approval_style = "inline"
