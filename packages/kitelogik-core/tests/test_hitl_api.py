"""The approvals REST API over real HTTP on loopback (uvicorn), with a real gate waiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kitelogik import GovernanceError, PolicyGate, SessionContext, ToolCall
from kitelogik.anchor.hitl import ApprovalQueue, SQLiteApprovalStore, TokenAuthenticator
from kitelogik.server.app import create_app
from kitelogik.server.runner import ServerThread

#: Approvals are audited to the default log by default: keep it out of the work tree.
pytestmark = pytest.mark.usefixtures("kl_home")

CTX = SessionContext(session_id="sess-api", agent_id="payer-agent", user_role="ops")


def pay_event(amount: float = 50) -> ToolCall:
    return ToolCall(
        action="wire_money",
        args={"to": "acct-9", "amount": amount},
        tool={"risk_tier": "transactional_high"},
        context=CTX,
    )


class Agent(threading.Thread):
    def __init__(self, gate: PolicyGate, event: ToolCall) -> None:
        super().__init__(daemon=True)
        self.gate, self.event = gate, event
        self.ran_with: dict[str, Any] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        def wire_money(**kwargs: Any) -> str:
            self.ran_with = kwargs
            return "sent"

        try:
            self.gate.run(self.event, wire_money)
        except BaseException as exc:
            self.error = exc

    def finish(self) -> Agent:
        self.join(60)
        assert not self.is_alive()
        return self


class Env:
    def __init__(self, tmp: Path) -> None:
        self.store = SQLiteApprovalStore(tmp / "approvals.db")
        self.queue = ApprovalQueue(self.store, audit=None)
        self.tokens = TokenAuthenticator(self.store)
        self.alice = self.tokens.create("alice")
        self.bob = self.tokens.create("bob")
        self.viewer = self.tokens.create("vic", ["viewer"])
        self.agent_token = self.tokens.create("payer-agent")  # the agent's own principal
        self.gate = PolicyGate(audit=None, approver=self.queue, approval_timeout=60)
        self.server = ServerThread(create_app(self.queue)).start()
        self.url = self.server.url

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def pending(self, count: int = 1) -> list[Any]:
        end = time.monotonic() + 30
        while time.monotonic() < end:
            found = self.queue.list()
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError("no pending request appeared")

    def close(self) -> None:
        self.server.stop()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.close()


def test_approve_over_the_api_lets_the_waiting_agent_proceed(env):
    agent = Agent(env.gate, pay_event(40))
    agent.start()
    (req,) = env.pending()
    with env.client(env.alice) as c:
        listed = c.get("/api/v1/approvals").json()
        assert [r["id"] for r in listed] == [req.id]
        shown = c.get(f"/api/v1/approvals/{req.id}").json()
        assert shown["args"] == {"to": "acct-9", "amount": 40}
        assert shown["risk_tier"] == "transactional_high"
        assert shown["session_id"] == "sess-api"
        r = c.post(
            f"/api/v1/approvals/{req.id}/approve",
            json={"reason": "expected", "digest": shown["digest"]},
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "approved"
    agent.finish()
    assert agent.ran_with == {"to": "acct-9", "amount": 40}
    assert env.queue.get(req.id).votes[0].approver == "alice"


def test_deny_over_the_api_denies_the_agent(env):
    agent = Agent(env.gate, pay_event())
    agent.start()
    (req,) = env.pending()
    with env.client(env.bob) as c:
        r = c.post(f"/api/v1/approvals/{req.id}/deny", json={"reason": "no"})
        assert r.status_code == 200
    agent.finish()
    assert agent.ran_with is None
    assert isinstance(agent.error, GovernanceError)


def test_unauthenticated_and_bad_tokens_are_refused(env):
    agent = Agent(env.gate, pay_event())
    agent.start()
    (req,) = env.pending()
    for token in (None, "klat_forged", "not-a-token", env.alice + "x"):
        with env.client(token) as c:
            assert c.get("/api/v1/approvals").status_code == 401
            r = c.post(f"/api/v1/approvals/{req.id}/approve", json={"reason": "x"})
            assert r.status_code == 401
    with httpx.Client(base_url=env.url) as c:
        r = c.post(
            f"/api/v1/approvals/{req.id}/approve",
            json={"reason": "x"},
            headers={"authorization": f"Basic {env.alice}"},
        )
        assert r.status_code == 401
    assert env.queue.get(req.id).votes == ()
    env.queue.deny(req.id, "bob", "cleanup")
    agent.finish()


def test_a_viewer_can_look_but_not_approve(env):
    agent = Agent(env.gate, pay_event())
    agent.start()
    (req,) = env.pending()
    with env.client(env.viewer) as c:
        assert c.get("/api/v1/approvals").status_code == 200
        r = c.post(f"/api/v1/approvals/{req.id}/approve", json={"reason": "x"})
        assert r.status_code == 403
    env.queue.deny(req.id, "bob", "cleanup")
    agent.finish()


def test_approver_identity_cannot_be_spoofed_through_the_body(env):
    agent = Agent(env.gate, pay_event())
    agent.start()
    (req,) = env.pending()
    with env.client(env.viewer) as c:
        # A viewer claims to be alice in the body and in made-up headers.
        for body in (
            {"reason": "x", "approver": "alice"},
            {"reason": "x", "user": "alice"},
            {"reason": "x", "identity": {"name": "alice", "roles": ["approver"]}},
        ):
            r = c.post(
                f"/api/v1/approvals/{req.id}/approve",
                json=body,
                headers={"x-approver": "alice", "x-forwarded-user": "alice"},
            )
            assert r.status_code in (403, 422), r.text
    with env.client(env.bob) as c:
        r = c.post(f"/api/v1/approvals/{req.id}/approve", json={"reason": "x", "approver": "alice"})
        assert r.status_code == 422  # unknown fields are refused outright
        r = c.post(
            f"/api/v1/approvals/{req.id}/approve",
            json={"reason": "x"},
            headers={"x-approver": "alice"},
        )
        assert r.status_code == 200
    votes = env.queue.get(req.id).votes
    assert [(v.approver, v.vote) for v in votes] == [("bob", "approve")]
    agent.finish()
    assert agent.ran_with is not None


def test_self_approval_over_the_api_is_refused(env):
    agent = Agent(env.gate, pay_event())
    agent.start()
    (req,) = env.pending()
    with env.client(env.agent_token) as c:
        r = c.post(f"/api/v1/approvals/{req.id}/approve", json={"reason": "me"})
        assert r.status_code == 403
        assert "may not decide its own request" in r.json()["detail"]
    env.queue.deny(req.id, "bob", "cleanup")
    agent.finish()
    assert agent.ran_with is None


def test_a_digest_for_other_arguments_is_refused(env):
    small, big = Agent(env.gate, pay_event(5)), Agent(env.gate, pay_event(5000))
    small.start()
    (req_small,) = env.pending()
    big.start()
    req_big = next(r for r in env.pending(2) if r.id != req_small.id)
    with env.client(env.alice) as c:
        r = c.post(
            f"/api/v1/approvals/{req_big.id}/approve",
            json={"reason": "ok", "digest": req_small.digest},
        )
        assert r.status_code == 409
        r = c.post(
            f"/api/v1/approvals/{req_big.id}/approve", json={"reason": "ok", "digest": "0" * 64}
        )
        assert r.status_code == 409
        for req in (req_small, req_big):
            assert c.post(f"/api/v1/approvals/{req.id}/deny", json={}).status_code == 200
    small.finish()
    big.finish()
    assert small.ran_with is None
    assert big.ran_with is None


def test_replayed_and_late_decisions_are_conflicts(env):
    agent = Agent(env.gate, pay_event())
    agent.start()
    (req,) = env.pending()
    with env.client(env.alice) as c:
        assert c.post(f"/api/v1/approvals/{req.id}/approve", json={}).status_code == 200
        assert c.post(f"/api/v1/approvals/{req.id}/approve", json={}).status_code == 409
    with env.client(env.bob) as c:
        assert c.post(f"/api/v1/approvals/{req.id}/deny", json={}).status_code == 409
        assert c.get("/api/v1/approvals/apr_nope").status_code == 404
    agent.finish()
    assert agent.ran_with is not None


def _login(env: Env, token: str) -> httpx.Client:
    c = httpx.Client(base_url=env.url, timeout=30, follow_redirects=False)
    r = c.post("/login", data={"token": token})
    assert r.status_code == 303, r.text
    return c


def _csrf(c: httpx.Client) -> str:
    html = c.get("/").text
    return html.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def test_page_session_requires_the_csrf_token_for_state_changes(env):
    agent = Agent(env.gate, pay_event())
    agent.start()
    (req,) = env.pending()
    c = _login(env, env.alice)
    csrf = _csrf(c)
    assert csrf
    url = f"/api/v1/approvals/{req.id}/approve"
    assert c.post(url, json={}).status_code == 403  # no token
    assert c.post(url, json={}, headers={"x-csrf-token": "wrong"}).status_code == 403
    r = c.post(url, json={}, headers={"x-csrf-token": csrf, "origin": "http://evil.example"})
    assert r.status_code == 403  # right token, foreign origin
    assert env.queue.get(req.id).votes == ()
    r = c.post(url, json={}, headers={"x-csrf-token": csrf, "origin": env.url})
    assert r.status_code == 200
    agent.finish()
    assert agent.ran_with is not None
    c.close()


def test_sign_in_is_refused_for_bad_tokens_and_cross_origin(env):
    with httpx.Client(base_url=env.url, timeout=30) as c:
        r = c.get("/")
        assert r.status_code == 401
        assert "Sign in" in r.text
        r = c.post("/login", data={"token": "klat_guess"})
        assert r.status_code == 401
        assert "kl_session" not in r.cookies
        r = c.post("/login", data={"token": env.alice}, headers={"origin": "http://evil.example"})
        assert r.status_code == 403


def test_revoking_a_token_ends_its_sessions(env):
    c = _login(env, env.alice)
    assert c.get("/api/v1/whoami").json()["name"] == "alice"
    env.tokens.revoke("alice")
    assert c.get("/api/v1/whoami").status_code == 401
    assert c.get("/").status_code == 401
    c.close()


def test_openapi_documents_the_api(env):
    with httpx.Client(base_url=env.url) as c:
        spec = c.get("/openapi.json").json()
    paths = spec["paths"]
    assert "/api/v1/approvals" in paths
    assert "post" in paths["/api/v1/approvals/{request_id}/approve"]
    assert "post" in paths["/api/v1/approvals/{request_id}/deny"]
    body = spec["components"]["schemas"]["DecisionBody"]
    assert body.get("additionalProperties") is False


def test_security_headers_on_the_page(env):
    with httpx.Client(base_url=env.url) as c:
        r = c.get("/")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"


def test_store_down_answers_503_and_approves_nothing(tmp_path):
    db = tmp_path / "approvals.db"
    store = SQLiteApprovalStore(db)
    token = TokenAuthenticator(store).create("alice")
    queue = ApprovalQueue(store, audit=None)
    with ServerThread(create_app(queue)) as srv:
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        db.write_bytes(b"garbage" * 512)
        with httpx.Client(base_url=srv.url, headers={"authorization": f"Bearer {token}"}) as c:
            r = c.post("/api/v1/approvals/apr_x/approve", json={})
            assert r.status_code == 503
            assert c.get("/api/v1/approvals").status_code == 503


def test_the_server_binds_loopback_by_default(tmp_path):
    from kitelogik.server.runner import is_loopback

    with ServerThread(create_app(ApprovalQueue(tmp_path / "a.db", audit=None))) as srv:
        assert srv.server.servers[0].sockets[0].getsockname()[0] == "127.0.0.1"
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert not is_loopback("0.0.0.0")


def test_signed_approver_credentials_from_the_broker(tmp_path):
    """Reviewers may authenticate with credentials from the credential broker that carry the
    ``hitl:approve`` scope; the identity is the credential's agent (never the body)."""
    from kitelogik.anchor.credentials import CredentialBroker
    from kitelogik.anchor.hitl import ChainAuthenticator, CredentialAuthenticator

    broker = CredentialBroker(home=tmp_path / "creds")
    store = SQLiteApprovalStore(tmp_path / "approvals.db")
    queue = ApprovalQueue(store, audit=None)
    auth = ChainAuthenticator(TokenAuthenticator(store), CredentialAuthenticator(broker.verify))
    gate = PolicyGate(audit=None, approver=queue, approval_timeout=60)
    carol = broker.issue("review-desk", ["hitl:approve"], agent_id="carol").token
    no_scope = broker.issue("review-desk-2", ["fs:read"], agent_id="dave").token
    own = broker.issue("sess-api", ["hitl:approve"], agent_id="payer-agent").token
    revoked = broker.issue("review-desk-3", ["hitl:approve"], agent_id="erin")
    broker.revoke(revoked.token_id)
    agent = Agent(gate, pay_event(31))
    agent.start()
    with ServerThread(create_app(queue, auth)) as srv:
        end = time.monotonic() + 30
        while not queue.list() and time.monotonic() < end:
            time.sleep(0.02)
        (req,) = queue.list()
        url = f"{srv.url}/api/v1/approvals/{req.id}/approve"

        def post(token: str, body: dict[str, Any] | None = None) -> httpx.Response:
            return httpx.post(
                url,
                json=body or {"reason": "ok"},
                headers={"authorization": f"Bearer {token}"},
                timeout=30,
            )

        assert post(no_scope).status_code == 401
        assert post(revoked.token).status_code == 401
        assert post(carol[:-4] + "AAAA").status_code == 401  # signature broken
        assert post(own).status_code == 403  # the requesting agent's own credential
        assert queue.get(req.id).votes == ()
        r = post(carol)
        assert r.status_code == 200, r.text
    agent.finish()
    assert agent.ran_with == {"to": "acct-9", "amount": 31}
    (vote,) = queue.get(req.id).votes
    assert vote.approver == "carol"
    assert vote.via.startswith("credential:")
    broker.close()
