"""The adapter conformance kit, run through LlamaIndex's real agent workflows (FunctionAgent,
streaming or not, and AgentWorkflow) with a scripted model. Escalations pause the workflow with
InputRequiredEvent and resume with HumanResponseEvent (the step replays), or wait for the
gate's approver. LlamaIndex agents are async only."""

from __future__ import annotations

from typing import Any

from kitelogik.testing.conformance import AdapterConformance, Harness, Transcript
from kitelogik_llama_index import GovernedAgentWorkflow, approval_response, govern_tools
from kitelogik_llama_index.testing import ScriptedLLM
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.tools import FunctionTool
from llama_index.core.workflow import InputRequiredEvent

ASYNC_ONLY = {"sync": "LlamaIndex agents are workflows: their loop is async only"}


def li_tools(h: Harness) -> list[FunctionTool]:
    return [
        FunctionTool.from_defaults(async_fn=t.afn, name=t.name, description=t.description)
        for t in h.tools
    ]


async def drive(h: Harness, handler: Any) -> Any:
    """Run a workflow handler to the end, answering Kite Logik approval requests."""
    async for ev in handler.stream_events():
        if isinstance(ev, InputRequiredEvent) and ev.get("kitelogik"):
            handler.ctx.send_event(approval_response(ev, h.approve(ev.get("kitelogik"))))
    return await handler


class TestFunctionAgentConformance(AdapterConformance):
    """FunctionAgent (non-streaming) with govern_tools; escalation by InputRequiredEvent."""

    approval_style = "interrupt"
    unsupported_modes = ASYNC_ONLY
    streaming = False

    def run(self, h: Harness) -> Transcript:  # pragma: no cover - skipped (ASYNC_ONLY)
        raise NotImplementedError

    def agent(self, h: Harness, model: ScriptedLLM) -> Any:
        return FunctionAgent(
            tools=govern_tools(li_tools(h), h.gate, context=h.context),
            llm=model.llm,
            streaming=self.streaming,
        )

    async def arun(self, h: Harness) -> Transcript:
        model = ScriptedLLM(h.script)
        result = await drive(h, self.agent(h, model).run(user_msg="go"))
        return Transcript(seen=model.seen(), final=str(result))


class TestFunctionAgentStreamingApproverConformance(TestFunctionAgentConformance):
    """FunctionAgent (streaming) with govern_tools; escalation waits for the gate's approver."""

    approval_style = "inline"
    streaming = True


class TestAgentWorkflowConformance(TestFunctionAgentConformance):
    """GovernedAgentWorkflow: plain tools on the agent, governed by the workflow."""

    def agent(self, h: Harness, model: ScriptedLLM) -> Any:
        worker = FunctionAgent(
            name="worker", description="does the work", tools=li_tools(h), llm=model.llm
        )
        return GovernedAgentWorkflow(
            agents=[worker], root_agent="worker", gate=h.gate, context=h.context
        )
