"""The adapter conformance kit, run through the governed Dify agent strategy's real entry point
(``AgentStrategy.invoke``: Dify's parameter conversion, then the strategy's own loop) with a
scripted session standing in for the plugin daemon (model and tool backwards invocations).
Escalations wait for the gate's approver: Dify strategies cannot pause and resume."""

from __future__ import annotations

from dify_plugin.entities.agent import AgentRuntime
from kitelogik.testing.conformance import AdapterConformance, Harness, Transcript
from kitelogik_dify import GovernedFunctionCalling
from kitelogik_dify.testing import ScriptedSession, model_params, tool_entity


class TestDifyConformance(AdapterConformance):
    approval_style = "inline"
    unsupported_modes = {
        "async": "Dify agent strategies are synchronous generators (the daemon runs them under "
        "gevent); there is no async entry point"
    }

    def run(self, h: Harness) -> Transcript:
        session = ScriptedSession(h.script, {t.name: t.fn for t in h.tools})
        strategy = GovernedFunctionCalling(runtime=AgentRuntime(user_id="u"), session=session)  # type: ignore[arg-type]
        strategy.gate = h.gate
        strategy.context = h.context
        out = list(
            strategy.invoke(
                {
                    "query": "go",
                    "model": model_params(),
                    "tools": [tool_entity(t.name, t.description, t.parameters) for t in h.tools],
                }
            )
        )
        final = [m.message.text for m in out if m.type.value == "text"]  # type: ignore[union-attr]
        return Transcript(seen=session.seen(), final=final[-1] if final else None)

    async def arun(self, h: Harness) -> Transcript:  # pragma: no cover - unsupported (above)
        raise NotImplementedError
