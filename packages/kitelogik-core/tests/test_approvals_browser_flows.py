"""The reviewers' page in a real browser: Debian's Chromium driven by Playwright, against the
approvals app served by uvicorn on loopback, with a real gate waiting in a thread.

Screenshots go to a temp dir; ``KL_UPDATE_SCREENSHOTS=1`` writes them into docs/img/ instead.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kitelogik import GovernanceError, PolicyGate, SessionContext, ToolCall
from kitelogik.anchor.hitl import ApprovalQueue, SQLiteApprovalStore, TokenAuthenticator
from kitelogik.server.app import create_app
from kitelogik.server.runner import ServerThread

#: Approvals are audited to the default log by default: keep it out of the work tree.
pytestmark = pytest.mark.usefixtures("kl_home")

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = os.environ.get("KL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
]


def shots(tmp_path: Path) -> Path:
    if os.environ.get("KL_UPDATE_SCREENSHOTS") == "1":
        out = REPO / "docs" / "img"
        out.mkdir(parents=True, exist_ok=True)
        return out
    return tmp_path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            "Chromium is missing: run scripts/ensure-services.sh (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Agent(threading.Thread):
    def __init__(self, gate: PolicyGate, event: ToolCall) -> None:
        super().__init__(daemon=True)
        self.gate, self.event = gate, event
        self.ran_with: dict[str, Any] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        def fn(**kwargs: Any) -> str:
            self.ran_with = kwargs
            return "done"

        try:
            self.gate.run(self.event, fn)
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
        tokens = TokenAuthenticator(self.store)
        self.alice = tokens.create("alice")
        self.gate = PolicyGate(audit=None, approver=self.queue, approval_timeout=120)
        self.server = ServerThread(create_app(self.queue, poll_interval_ms=300)).start()
        self.url = self.server.url

    def agent(
        self,
        action: str,
        args: dict[str, Any],
        tier: str = "transactional_high",
        session: str = "support-session-42",
        agent_id: str = "refund-bot",
    ) -> Agent:
        ctx = SessionContext(session_id=session, agent_id=agent_id, user_role="support")
        a = Agent(
            self.gate, ToolCall(action=action, args=args, tool={"risk_tier": tier}, context=ctx)
        )
        a.start()
        return a

    def pending_ids(self, count: int) -> list[str]:
        end = time.monotonic() + 30
        while time.monotonic() < end:
            found = self.queue.list()
            if len(found) >= count:
                return [r.id for r in found]
            time.sleep(0.02)
        raise AssertionError("no pending request appeared")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.server.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def sign_in(page: Any, env: Env, token: str) -> None:
    page.goto(env.url + "/")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_selector("#reviewer")


def test_pending_request_appears_and_approving_lets_the_agent_proceed(env, page, tmp_path):
    out = shots(tmp_path)
    sign_in(page, env, env.alice)
    assert page.text_content("#reviewer") == "alice"
    page.wait_for_selector("#pending .empty")
    # Agents ask while the page is open: the requests appear without a reload.
    refund = env.agent(
        "refund_payment",
        {
            "customer_id": "c-1042",
            "amount": 180.0,
            "currency": "EUR",
            "reason": "damaged on arrival",
        },
    )
    (refund_id,) = env.pending_ids(1)
    mail = env.agent(
        "email_customer",
        {"to": "ceo@example.com", "subject": "Q3 numbers", "body": "Attached as requested."},
        session="assistant-7",
        agent_id="mail-bot",
    )
    ids = env.pending_ids(2)
    mail_id = next(i for i in ids if i != refund_id)
    card = f"article[data-id='{refund_id}']"
    page.wait_for_selector(card)
    page.wait_for_selector(f"article[data-id='{mail_id}']")
    text = page.text_content(card) or ""
    for expected in (
        "refund_payment",
        "c-1042",
        "180",
        "transactional_high",
        "support-session-42",
        "refund-bot",
        "a human must approve",
    ):
        assert expected in text
    page.screenshot(path=str(out / "approvals-pending.png"), full_page=True)

    page.fill(f"{card} input[name=reason]", "matches ticket #1042")
    page.click(f"{card} button.approve")
    refund.finish()
    assert refund.error is None
    assert refund.ran_with == {
        "customer_id": "c-1042",
        "amount": 180.0,
        "currency": "EUR",
        "reason": "damaged on arrival",
    }
    page.wait_for_selector(f"#recent tr[data-id='{refund_id}']")
    assert "Approved refund_payment" in (page.text_content("#flash") or "")
    (vote,) = env.queue.get(refund_id).votes
    assert (vote.approver, vote.reason) == ("alice", "matches ticket #1042")
    page.screenshot(path=str(out / "approvals-approved.png"), full_page=True)
    env.queue.deny(mail_id, "bob", "cleanup")
    mail.finish()


def test_denying_in_the_page_gives_the_agent_a_deny(env, page, tmp_path):
    out = shots(tmp_path)
    sign_in(page, env, env.alice)
    agent = env.agent(
        "purge_records",
        {"table": "customers", "where": "created < 2020"},
        tier="destructive",
        session="ops-session-3",
        agent_id="cleanup-bot",
    )
    (rid,) = env.pending_ids(1)
    card = f"article[data-id='{rid}']"
    page.wait_for_selector(card)
    page.fill(f"{card} input[name=reason]", "too broad, needs a backup first")
    page.click(f"{card} button.deny")
    agent.finish()
    assert agent.ran_with is None
    assert isinstance(agent.error, GovernanceError)
    assert "too broad" in agent.error.decision.reason
    page.wait_for_selector(f"#recent tr[data-id='{rid}'] .status-denied")
    page.screenshot(path=str(out / "approvals-denied.png"), full_page=True)


def test_an_unauthenticated_reviewer_is_refused(env, page, tmp_path):
    out = shots(tmp_path)
    agent = env.agent("refund_payment", {"customer_id": "c-7", "amount": 999})
    (rid,) = env.pending_ids(1)
    response = page.goto(env.url + "/")
    assert response.status == 401
    assert page.query_selector("article.request") is None
    page.fill("input[name=token]", "klat_this-is-not-a-real-token")
    page.click("button[type=submit]")
    page.wait_for_selector(".error")
    assert "not accepted" in (page.text_content(".error") or "")
    page.screenshot(path=str(out / "approvals-signin-refused.png"), full_page=True)
    # Script in the page, without a session, cannot approve either.
    status = page.evaluate(
        """async (rid) => {
            const r = await fetch('/api/v1/approvals/' + rid + '/approve', {method: 'POST',
                headers: {'content-type': 'application/json'}, body: '{"reason": "x"}'});
            return r.status; }""",
        rid,
    )
    assert status == 401
    assert env.queue.get(rid).votes == ()
    env.queue.deny(rid, "bob", "cleanup")
    agent.finish()
    assert agent.ran_with is None


def test_a_signed_in_reviewer_is_not_exploitable_from_another_site(env, page):
    """A page on another origin (another port) that the signed-in reviewer visits tries to
    approve: a plain form post and a fetch. Neither gets a vote recorded."""
    agent = env.agent("refund_payment", {"customer_id": "c-9", "amount": 5000})
    (rid,) = env.pending_ids(1)
    target = f"{env.url}/api/v1/approvals/{rid}/approve"
    evil_html = f"""<!doctype html><html><body>
<form id=f method=post action="{target}" enctype="text/plain">
<input name='{{"reason":"x","digest":null,"pad":"' value='"}}'></form>
<script>
fetch("{target}", {{method: "POST", mode: "no-cors", credentials: "include",
  headers: {{"content-type": "text/plain"}}, body: '{{"reason": "csrf"}}'}})
  .finally(function () {{ document.getElementById("f").submit(); }});
</script></body></html>""".encode()

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(evil_html)

        def log_message(self, *args: Any) -> None:
            pass

    evil = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        sign_in(page, env, env.alice)
        with page.expect_navigation(url=target):
            page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
        assert env.queue.get(rid).votes == ()
        assert env.queue.get(rid).status == "pending"
    finally:
        evil.shutdown()
        evil.server_close()
    env.queue.deny(rid, "bob", "cleanup")
    agent.finish()
    assert agent.ran_with is None
