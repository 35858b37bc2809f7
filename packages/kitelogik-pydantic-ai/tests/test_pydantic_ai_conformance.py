"""The adapter conformance kit, run through PydanticAI's real agent loop (``Agent.run_sync`` /
``Agent.run`` with a scripted ``FunctionModel``), with both escalation styles: the gate's
approver inside the call, and ``ApprovalRequired`` / ``DeferredToolRequests`` resumed with
``DeferredToolResults``."""

from __future__ import annotations

from typing import Any

from kitelogik.adapters import approval_answer
from kitelogik.testing.conformance import AdapterConformance, Harness, Transcript
from kitelogik_pydantic_ai import KitelogikCapability
from kitelogik_pydantic_ai.testing import scripted_model
from pydantic_ai import Agent, DeferredToolRequests, Tool


def pai_tools(h: Harness, *, is_async: bool) -> list[Tool[Any]]:
    return [
        Tool(t.afn if is_async else t.fn, name=t.name, description=t.description) for t in h.tools
    ]


class _PydanticAI(AdapterConformance):
    def build(self, h: Harness, *, is_async: bool) -> tuple[Agent[Any, Any], KitelogikCapability]:
        cap = KitelogikCapability(h.gate, context=h.context)
        agent = Agent(
            scripted_model(h.script),
            tools=pai_tools(h, is_async=is_async),
            capabilities=[cap],
            output_type=[str, DeferredToolRequests],
        )
        return agent, cap

    def answers(self, h: Harness, cap: KitelogikCapability, out: DeferredToolRequests) -> Any:
        requests = cap.approval_requests(out)
        return {cid: approval_answer(h.approve(req)) for cid, req in requests.items()}

    def run(self, h: Harness) -> Transcript:
        agent, cap = self.build(h, is_async=False)
        result = agent.run_sync("go")
        while isinstance(result.output, DeferredToolRequests):
            results = cap.results(result.output, self.answers(h, cap, result.output))
            result = agent.run_sync(
                message_history=result.all_messages(), deferred_tool_results=results
            )
        assert cap.pending() == 0
        return Transcript(seen=agent.model.seen(), final=str(result.output))  # type: ignore[union-attr]

    async def arun(self, h: Harness) -> Transcript:
        agent, cap = self.build(h, is_async=True)
        result = await agent.run("go")
        while isinstance(result.output, DeferredToolRequests):
            results = await cap.aresults(result.output, self.answers(h, cap, result.output))
            result = await agent.run(
                message_history=result.all_messages(), deferred_tool_results=results
            )
        assert cap.pending() == 0
        return Transcript(seen=agent.model.seen(), final=str(result.output))  # type: ignore[union-attr]


class TestPydanticAIInterruptConformance(_PydanticAI):
    """Escalation by ApprovalRequired, resumed with DeferredToolResults."""

    approval_style = "interrupt"


class TestPydanticAIApproverConformance(_PydanticAI):
    """Escalation waiting for the gate's approver inside the call."""

    approval_style = "inline"
