"""plugin_crewai / plugin_crewai_baseline: one tool call through CrewAI's real crew loop
(Crew.kickoff with a scripted BaseLLM making a native tool call), with and without
KitelogikHooks (scoped registration). The difference is what governance adds per tool call
(kit policy, embedded Rego engine, no audit sink). Runs in the plugin's environment:
scripts/bench-plugins.sh (make bench). Telemetry is off.
A kickoff costs tens of milliseconds of CrewAI machinery, far more than the difference, so
``plugin_crewai_hook`` / ``_hook_baseline`` time one tool call as CrewAI's tool path runs it
(``run_before_tool_call_hooks``, the tool, ``run_after_tool_call_hooks``) with the hooks scoped
and without."""

from __future__ import annotations

import contextlib
import contextvars
import os
from typing import Any


def scenarios() -> dict[str, Any]:
    os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("OTEL_SDK_DISABLED", "true")
    os.environ.setdefault("CREWAI_TRACING_ENABLED", "false")
    try:
        from crewai import Agent, Crew, Task
        from crewai.tools import tool
        from kitelogik_crewai import KitelogikHooks
        from kitelogik_crewai.testing import ScriptedLLM
    except ImportError:
        return {}
    from kitelogik.gate import PolicyGate
    from kitelogik.testing.fakes import kit_engine
    from kitelogik.testing.scenarios import Call, Turn

    @tool("lookup")
    def lookup(key: str) -> str:
        """Look up a key."""
        return f"value-of-{key}"

    turns = [Turn(calls=(Call("lookup", {"key": "a"}, "c1"),)), Turn(text="done")]

    def factory(governed: bool) -> Any:
        hooks = KitelogikHooks(PolicyGate(kit_engine(), audit=None)) if governed else None

        def op() -> None:
            llm = ScriptedLLM.from_turns(turns)
            agent = Agent(
                role="bench", goal="g", backstory="b", llm=llm, tools=[lookup], cache=False
            )
            crew = Crew(
                agents=[agent], tasks=[Task(description="go", expected_output="e", agent=agent)]
            )
            with hooks.scoped() if hooks else contextlib.nullcontext():
                crew.kickoff()
            assert llm.seen()["c1"] == "value-of-a"

        return op, None, 200

    from crewai.hooks.tool_hooks import (
        ToolCallHookContext,
        run_after_tool_call_hooks,
        run_before_tool_call_hooks,
    )

    def hook_factory(governed: bool) -> Any:
        # Each op runs in its own context, so the scoped hooks reach only the governed one.
        run_in = contextvars.Context().run
        scope = (
            KitelogikHooks(PolicyGate(kit_engine(), audit=None)).scoped()
            if governed
            else contextlib.nullcontext()
        )
        run_in(scope.__enter__)

        def call() -> None:
            args = {"key": "a"}
            ctx = ToolCallHookContext(tool_name="lookup", tool_input=args, tool=lookup)
            assert not run_before_tool_call_hooks(ctx)
            result = lookup.run(**args)
            after = ToolCallHookContext(
                tool_name="lookup", tool_input=args, tool=lookup, tool_result=result
            )
            run_after_tool_call_hooks(after)

        def op() -> None:
            run_in(call)

        return op, lambda: run_in(scope.__exit__, None, None, None), 5000

    return {
        "plugin_crewai": lambda: factory(True),
        "plugin_crewai_baseline": lambda: factory(False),
        "plugin_crewai_hook": lambda: hook_factory(True),
        "plugin_crewai_hook_baseline": lambda: hook_factory(False),
    }
