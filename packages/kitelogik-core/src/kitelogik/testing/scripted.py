"""A scripted model on the OpenAI wire: the framework's real OpenAI client and agent loop run
unchanged, and the "model" answers from a script of :class:`~kitelogik.testing.scenarios.Turn`.

* :class:`ScriptedOpenAI` answers ``POST .../chat/completions`` and ``POST .../responses``
  with the next scripted turn and records every request body. Plug it in with
  ``httpx.MockTransport(scripted.handler)`` (SDKs that take an ``http_client``) or
  :meth:`ScriptedOpenAI.serve` (a real HTTP server on 127.0.0.1, for SDKs that only take a
  ``base_url``).
* :meth:`ScriptedOpenAI.seen` extracts what the model received as each tool call's result
  from the recorded requests (``role: tool`` messages, ``function_call_output`` items).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kitelogik.testing.scenarios import Turn

__all__ = ["ScriptedOpenAI", "chat_completion", "responses_response"]

_CREATED = 1_760_000_000


def chat_completion(turn: Turn, index: int, model: str = "kit-model") -> dict[str, Any]:
    """A Chat Completions response body for ``turn``."""
    message: dict[str, Any] = {"role": "assistant", "content": turn.text, "refusal": None}
    if turn.calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(dict(c.args))},
            }
            for c in turn.calls
        ]
    return {
        "id": f"chatcmpl-kit-{index}",
        "object": "chat.completion",
        "created": _CREATED + index,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if turn.calls else "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def responses_response(turn: Turn, index: int, model: str = "kit-model") -> dict[str, Any]:
    """A Responses API response body for ``turn``."""
    output: list[dict[str, Any]] = [
        {
            "type": "function_call",
            "id": f"fc_{c.id}",
            "call_id": c.id,
            "name": c.name,
            "arguments": json.dumps(dict(c.args)),
            "status": "completed",
        }
        for c in turn.calls
    ]
    if turn.text is not None:
        output.append(
            {
                "type": "message",
                "id": f"msg_kit_{index}",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": turn.text, "annotations": []}],
            }
        )
    return {
        "id": f"resp_kit_{index}",
        "object": "response",
        "created_at": _CREATED + index,
        "model": model,
        "output": output,
        "status": "completed",
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 10,
            "output_tokens": 5,
            "total_tokens": 15,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


class ScriptedOpenAI:
    """Answers OpenAI API requests from a script; one request = one model turn. After the
    script is exhausted it keeps answering with a final text (so a loop ends instead of hanging).
    """

    def __init__(
        self, script: Sequence[Turn], *, model: str = "kit-model", final_text: str = "done"
    ) -> None:
        self.script = list(script)
        self.model = model
        self.final_text = final_text
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def reset(self, script: Sequence[Turn] | None = None) -> None:
        with self._lock:
            if script is not None:
                self.script = list(script)
            self.requests.clear()

    def respond(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            index = len(self.requests)
            self.requests.append(body)
        turn = self.script[index] if index < len(self.script) else Turn(text=self.final_text)
        if path.rstrip("/").endswith("/responses"):
            return responses_response(turn, index, self.model)
        return chat_completion(turn, index, self.model)

    def handler(self, request: Any) -> Any:
        """An ``httpx.MockTransport`` handler (works for sync and async clients)."""
        import httpx

        body = json.loads(request.content or b"{}")
        return httpx.Response(200, json=self.respond(request.url.path, body))

    def seen(self) -> dict[str, str]:
        """Tool results by call id, as the model received them in later requests."""
        out: dict[str, str] = {}
        for body in self.requests:
            for m in body.get("messages") or []:
                if isinstance(m, dict) and m.get("role") == "tool":
                    out[str(m.get("tool_call_id"))] = _text(m.get("content"))
            items = body.get("input")
            if isinstance(items, list):
                for it in items:
                    if isinstance(it, dict) and it.get("type") == "function_call_output":
                        out[str(it.get("call_id"))] = _text(it.get("output"))
        return out

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve on a real loopback HTTP port; yields the ``base_url`` (``.../v1``)."""
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                data = json.dumps(scripted.respond(self.path, body)).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/v1"
        finally:
            server.shutdown()
            server.server_close()


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return json.dumps(content)
