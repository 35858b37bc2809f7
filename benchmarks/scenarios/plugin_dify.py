"""plugin_dify / plugin_dify_baseline: one tool call through the Dify agent strategy's real entry
point (``AgentStrategy.invoke``: model turn with one tool call, ``session.tool.invoke``, model
turn with the answer) with a scripted session standing in for the plugin daemon, with and
without governance: ``GovernedFunctionCalling`` vs. the same loop with the gate taken out (tool
calls invoked directly). The difference is what governance adds per tool call (kit policy,
embedded Rego engine, no audit sink). ``plugin_dify_hook`` / ``_hook_baseline``: the per-call
step alone (decide and invoke vs. invoke).

Runs in the plugin's environment (its own process: importing dify_plugin gevent-patches it):
scripts/bench-plugins.sh (make bench).
"""

from __future__ import annotations

import importlib.util
from typing import Any


def scenarios() -> dict[str, Any]:
    if importlib.util.find_spec("kitelogik_dify") is None:  # not this environment
        return {}
    try:
        from dify_plugin.entities.agent import AgentRuntime
        from kitelogik.gate import PolicyGate
        from kitelogik.testing.fakes import kit_engine
        from kitelogik.testing.scenarios import Call, Turn
        from kitelogik_dify import GovernedFunctionCalling
        from kitelogik_dify.strategy import tool_text
        from kitelogik_dify.testing import ScriptedSession, model_params, tool_entity
    except ImportError:
        return {}

    class Ungoverned(GovernedFunctionCalling):
        """The same loop without the gate: every tool call is invoked directly."""

        def _call(self, gate: Any, context: Any, tools: Any, call: Any) -> Any:
            entity = tools[call.function.name]
            import json

            text = tool_text(
                self.session.tool.invoke(
                    provider_type=entity.provider_type,
                    provider=entity.identity.provider,
                    tool_name=call.function.name,
                    parameters=json.loads(call.function.arguments),
                )
            )
            return text, {"tool": call.function.name}

    def lookup(key: str) -> str:
        return f"value-of-{key}"

    tools = [tool_entity("lookup", "Look up a key.", {"properties": {"key": {"type": "string"}}})]
    params = {"query": "go", "model": model_params(), "tools": tools}
    gate = PolicyGate(kit_engine(), audit=None)

    def factory(governed: bool) -> Any:
        session = ScriptedSession(
            [Turn(calls=(Call("lookup", {"key": "a"}, "c1"),))], {"lookup": lookup}
        )
        cls = GovernedFunctionCalling if governed else Ungoverned
        strategy = cls(runtime=AgentRuntime(user_id="u"), session=session)  # type: ignore[arg-type]
        strategy.gate = gate

        def op() -> None:
            session.model.llm.requests.clear()
            session.tool.invocations.clear()
            out = list(strategy.invoke(params))
            assert out[-1].message.text == "done" and len(session.tool.invocations) == 1

        return op, None, 1000

    def hook(governed: bool) -> Any:
        import json

        from dify_plugin.entities.model.message import AssistantPromptMessage
        from dify_plugin.interfaces.agent import ToolEntity

        session = ScriptedSession([], {"lookup": lookup})
        cls = GovernedFunctionCalling if governed else Ungoverned
        strategy = cls(runtime=AgentRuntime(user_id="u"), session=session)  # type: ignore[arg-type]
        entities = {"lookup": ToolEntity(**tools[0])}
        call = AssistantPromptMessage.ToolCall(
            id="c1",
            type="function",
            function=AssistantPromptMessage.ToolCall.ToolCallFunction(
                name="lookup", arguments=json.dumps({"key": "a"})
            ),
        )

        def op() -> None:
            session.tool.invocations.clear()
            strategy._call(gate, None, entities, call)

        return op, None, 3000

    return {
        "plugin_dify": lambda: factory(True),
        "plugin_dify_baseline": lambda: factory(False),
        "plugin_dify_hook": lambda: hook(True),
        "plugin_dify_hook_baseline": lambda: hook(False),
    }
