"""plugin_openai / plugin_openai_baseline: one tool call through a Chat Completions tool loop with
the real OpenAI client (scripted model over httpx.MockTransport), executing the call with
GovernedTools or directly. The difference is what governance adds per tool call (kit policy,
embedded Rego engine, no audit sink). Runs in the plugin's environment: scripts/bench-plugins.sh
(make bench)."""

from __future__ import annotations

import json
from typing import Any


def scenarios() -> dict[str, Any]:
    try:
        import httpx
        from kitelogik_openai import GovernedTools
        from openai import OpenAI
    except ImportError:
        return {}
    from kitelogik.gate import PolicyGate
    from kitelogik.testing.fakes import kit_engine
    from kitelogik.testing.scenarios import Call, Turn
    from kitelogik.testing.scripted import ScriptedOpenAI

    def lookup(key: str) -> str:
        """Look up a key."""
        return f"value-of-{key}"

    def factory(governed: bool) -> Any:
        model = ScriptedOpenAI(
            [Turn(calls=(Call("lookup", {"key": "a"}, "c1"),)), Turn(text="done")]
        )
        client = OpenAI(
            api_key="sk-bench",
            base_url="http://scripted.invalid/v1",
            http_client=httpx.Client(transport=httpx.MockTransport(model.handler)),
            max_retries=0,
        )
        tools = GovernedTools(PolicyGate(kit_engine(), audit=None))
        tools.register(lookup)
        schema = tools.chat_tools()

        def plain(message: Any) -> list[dict[str, Any]]:
            return [
                {
                    "role": "tool",
                    "tool_call_id": tc.id,
                    "content": lookup(**json.loads(tc.function.arguments)),
                }
                for tc in message.tool_calls
            ]

        execute = tools.execute if governed else plain

        def op() -> None:
            model.reset()
            messages: list[Any] = [{"role": "user", "content": "go"}]
            while True:
                r = client.chat.completions.create(model="m", messages=messages, tools=schema)
                message = r.choices[0].message
                messages.append(message.model_dump(exclude_none=True))
                if not message.tool_calls:
                    break
                messages.extend(execute(message))
            assert messages[2]["content"] == "value-of-a"

        return op, None, 1000

    def hook(governed: bool) -> Any:
        """Executing one tool call of a parsed response (no HTTP): the governance cost without
        the loop's noise."""
        from openai.types.chat import ChatCompletionMessage

        tools = GovernedTools(PolicyGate(kit_engine(), audit=None))
        tools.register(lookup)
        message = ChatCompletionMessage.model_validate(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"key": "a"}'},
                    }
                ],
            }
        )

        def plain() -> Any:
            return [
                {
                    "role": "tool",
                    "tool_call_id": tc.id,
                    "content": lookup(**json.loads(tc.function.arguments)),
                }
                for tc in message.tool_calls or []
            ]

        return (lambda: tools.execute(message)) if governed else plain

    return {
        "plugin_openai": lambda: factory(True),
        "plugin_openai_baseline": lambda: factory(False),
        "plugin_openai_hook": lambda: hook(True),
        "plugin_openai_hook_baseline": lambda: hook(False),
    }
