"""The webhook notifier against a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kitelogik import PolicyGate, SessionContext, ToolCall
from kitelogik.anchor.hitl import ApprovalQueue, WebhookNotifier, verify_signature

#: Approvals are audited to the default log by default: keep it out of the work tree.
pytestmark = pytest.mark.usefixtures("kl_home")

SECRET = "s3cret-for-tests"


class Receiver:
    def __init__(self, status: int = 200) -> None:
        self.deliveries: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.deliveries.append({"headers": dict(self.headers), "body": body})
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def escalate(queue: ApprovalQueue, amount: float = 10):
    gate = PolicyGate(audit=None)
    event = ToolCall(
        action="wire_money",
        args={"to": "acct-3", "amount": amount},
        tool={"risk_tier": "transactional_high"},
        context=SessionContext(session_id="s-hook", user_role="ops"),
    )
    decision = gate.check(event)
    return queue.request(decision, event, timeout=60), decision


def test_each_request_is_delivered_signed_with_id_and_digest(tmp_path: Path, receiver):
    hook = WebhookNotifier(receiver.url, SECRET, page_url="http://127.0.0.1:8765")
    queue = ApprovalQueue(tmp_path / "a.db", notifiers=[hook], audit=None)
    req, decision = escalate(queue)
    (delivery,) = receiver.deliveries
    body, headers = delivery["body"], {k.lower(): v for k, v in delivery["headers"].items()}
    payload = json.loads(body)
    assert payload["request_id"] == req.id
    assert payload["digest"] == decision.binding_digest
    assert payload["action"] == "wire_money"
    assert "args" not in payload  # arguments stay on the page
    assert payload["url"].endswith(req.id)
    ts, sig = headers["x-kitelogik-timestamp"], headers["x-kitelogik-signature"]
    assert verify_signature(SECRET, ts, sig, body)
    # A receiver rejects a forged or altered delivery, a wrong secret, and an old one.
    assert not verify_signature(SECRET, ts, sig, body.replace(b"wire_money", b"read_files"))
    assert not verify_signature("other-secret", ts, sig, body)
    assert not verify_signature(SECRET, str(int(ts) - 3600), sig, body)
    assert not verify_signature(SECRET, ts, None, body)


def test_a_failing_webhook_does_not_block_the_request(tmp_path: Path):
    failing = Receiver(status=500)
    try:
        queue = ApprovalQueue(
            tmp_path / "a.db", notifiers=[WebhookNotifier(failing.url, SECRET)], audit=None
        )
        req, _ = escalate(queue)
        assert len(failing.deliveries) == 1
        assert queue.get(req.id).status == "pending"
    finally:
        failing.close()


def test_a_notifier_needs_a_secret():
    with pytest.raises(ValueError, match="secret"):
        WebhookNotifier("http://127.0.0.1:9/hook", "")
