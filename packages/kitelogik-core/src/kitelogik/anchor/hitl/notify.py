"""Notifiers: tell reviewers that a request is waiting.

:class:`WebhookNotifier` POSTs a small JSON document (request id, binding digest, action, risk
tier, session, expiry, a link to the page) to a chat tool or any HTTP endpoint, signed with
HMAC-SHA256 so the receiver can check it came from this queue and was not altered::

    X-Kitelogik-Timestamp: 1767225600
    X-Kitelogik-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

The arguments are not sent (they may be sensitive); reviewers see them on the page.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from kitelogik.anchor.hitl.models import ApprovalRequest
from kitelogik.anchor.hitl.queue import Notifier

__all__ = ["WebhookNotifier", "sign_payload", "verify_signature"]


def sign_payload(secret: str | bytes, timestamp: str, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    mac = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def verify_signature(
    secret: str | bytes,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> bool:
    """True when ``signature`` is this secret's signature of ``body`` at ``timestamp`` and the
    timestamp is within ``tolerance`` seconds of now (so an old delivery cannot be replayed)."""
    if not timestamp or not signature:
        return False
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        return False
    return hmac.compare_digest(sign_payload(secret, timestamp, body), signature)


class WebhookNotifier(Notifier):
    """POSTs a signed ``approval.requested`` event for every new request."""

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        *,
        page_url: str | None = None,
        timeout: float = 5.0,
        client: httpx.Client | None = None,
    ) -> None:
        if not secret:
            raise ValueError("a webhook notifier needs a signing secret")
        self.url = url
        self.secret = secret
        self.page_url = page_url.rstrip("/") if page_url else None
        self.timeout = timeout
        self.client = client

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.url!r})"

    def payload(self, request: ApprovalRequest) -> dict[str, Any]:
        return {
            "type": "approval.requested",
            "request_id": request.id,
            "digest": request.digest,
            "action": request.action,
            "event_type": request.event_type,
            "risk_tier": request.risk_tier,
            "session_id": request.session_id,
            "reasons": list(request.reasons),
            "quorum": request.quorum,
            "expires_at": request.expires_at,
            "url": f"{self.page_url}/#{request.id}" if self.page_url else None,
        }

    def notify(self, request: ApprovalRequest) -> None:
        body = json.dumps(self.payload(request), sort_keys=True, separators=(",", ":")).encode()
        ts = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "x-kitelogik-timestamp": ts,
            "x-kitelogik-signature": sign_payload(self.secret, ts, body),
        }
        if self.client is not None:
            resp = self.client.post(self.url, content=body, headers=headers)
        else:
            resp = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout)
        resp.raise_for_status()
