"""The approval queue against both stores (SQLite and a real PostgreSQL), same tests for each.

Decisions come from the real gate and the bundled Rego policies: a tool declared
``transactional_high`` escalates.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kitelogik import PolicyGate, SessionContext, ToolCall
from kitelogik.anchor.hitl import (
    ApprovalConflict,
    ApprovalQueue,
    ApproverIdentity,
    NotAuthorized,
    SeparationOfDutiesError,
    SQLiteApprovalStore,
    UnknownRequest,
)
from kitelogik.anchor.hitl.store import SQLApprovalStore

#: Approvals are audited to the default log by default: keep it out of the work tree.
pytestmark = pytest.mark.usefixtures("kl_home")

CTX = SessionContext(session_id="sess-1", agent_id="agent-7", user_role="ops")


@pytest.fixture(scope="module")
def checker() -> PolicyGate:
    return PolicyGate(audit=None)


def escalated(checker: PolicyGate, amount: float = 50, ctx: SessionContext = CTX):
    event = ToolCall(
        action="wire_money",
        args={"to": "acct-9", "amount": amount},
        tool={"risk_tier": "transactional_high"},
        context=ctx,
    )
    decision = checker.check(event)
    assert decision.verdict == "escalate", decision
    return decision, event


def _pg_database(dsn: str) -> str:
    import psycopg

    name = "hitl_" + uuid.uuid4().hex[:12]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return dsn.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLApprovalStore]:
    if request.param == "sqlite":
        yield SQLiteApprovalStore(tmp_path / "approvals.db")
    else:
        from kitelogik.anchor.hitl.postgres import PostgresApprovalStore

        dsn = request.getfixturevalue("postgres_dsn")
        yield PostgresApprovalStore(_pg_database(dsn))


@pytest.fixture
def queue(store: SQLApprovalStore) -> ApprovalQueue:
    return ApprovalQueue(store, audit=None)


def test_request_is_stored_pending_and_bound_to_the_decision(queue, checker):
    decision, event = escalated(checker)
    req = queue.request(decision, event, timeout=60)
    assert req.status == "pending"
    assert req.digest == decision.binding_digest == req.bound_digest()
    got = queue.get(req.id)
    assert got.args == {"to": "acct-9", "amount": 50}
    assert got.action == "wire_money"
    assert got.session_id == "sess-1"
    assert got.risk_tier == "transactional_high"
    assert any("human must approve" in r for r in got.reasons)
    assert {"sess-1", "agent-7"} <= set(got.principals)
    assert [r.id for r in queue.list()] == [req.id]


def test_approve_then_wait_then_consume_once(queue, checker):
    decision, event = escalated(checker)
    req = queue.request(decision, event, timeout=60)
    queue.approve(req.id, "alice", "looks right", digest=req.digest)
    result = queue.wait(req.id, timeout=30)
    assert result.approved
    assert result.status == "approved"
    assert result.approvers == ("alice",)
    assert result.digest == decision.binding_digest
    used = queue.consume(req.id, decision)
    assert used.approved
    assert used.digest == decision.binding_digest
    # Replay: the same approval cannot be used a second time.
    again = queue.consume(req.id, decision)
    assert not again.approved
    assert "already used" in again.reason
    assert queue.list() == []


def test_deny_is_reported_with_the_reviewers_reason(queue, checker):
    decision, event = escalated(checker)
    req = queue.request(decision, event, timeout=60)
    queue.deny(req.id, "bob", "wrong account")
    result = queue.wait(req.id, timeout=30)
    assert not result.approved
    assert result.status == "denied"
    assert "bob" in result.reason
    assert "wrong account" in result.reason
    refused = queue.consume(req.id, decision)
    assert not refused.approved
    with pytest.raises(ApprovalConflict, match="already denied"):
        queue.approve(req.id, "carol", "override")


def test_timeout_expires_the_request_and_a_late_approval_is_refused(queue, checker):
    decision, event = escalated(checker)
    req = queue.request(decision, event, timeout=0.2)
    result = queue.wait(req.id, timeout=0.2)
    assert not result.approved
    assert result.status == "expired"
    assert queue.get(req.id).status == "expired"
    with pytest.raises(ApprovalConflict):
        queue.approve(req.id, "alice", "late")
    assert not queue.consume(req.id, decision).approved


def test_an_approval_after_the_ttl_is_refused_even_before_anyone_marked_it(store, checker):
    queue = ApprovalQueue(store, ttl=0.05, audit=None)
    decision, event = escalated(checker)
    req = queue.request(decision, event, timeout=60)
    time.sleep(0.1)
    assert queue.list() == []  # a pending request past its time is not offered to reviewers
    with pytest.raises(ApprovalConflict, match="expired"):
        queue.approve(req.id, "alice", "late")
    assert queue.get(req.id).status == "expired"


def test_quorum_needs_distinct_approvers(store, checker):
    queue = ApprovalQueue(store, quorum=2, audit=None)
    decision, event = escalated(checker)
    req = queue.request(decision, event, timeout=60)
    after_one = queue.approve(req.id, "alice", "ok")
    assert after_one.status == "pending"
    assert after_one.approvers == ("alice",)
    with pytest.raises(ApprovalConflict, match="already voted"):
        queue.approve(req.id, "alice", "ok again")
    assert not queue.consume(req.id, decision).approved  # one of two is not an approval
    done = queue.approve(req.id, "bob", "ok")
    assert done.status == "approved"
    result = queue.wait(req.id, timeout=5)
    assert result.approved
    assert set(result.approvers) == {"alice", "bob"}


def test_one_deny_decides_even_with_a_quorum(store, checker):
    queue = ApprovalQueue(store, quorum=3, audit=None)
    decision, event = escalated(checker)
    req = queue.request(decision, event, timeout=60)
    queue.approve(req.id, "alice", "ok")
    assert queue.deny(req.id, "bob", "no").status == "denied"
    assert queue.wait(req.id, timeout=5).status == "denied"


def test_self_approval_is_refused(queue, checker):
    decision, event = escalated(checker)
    req = queue.request(decision, event, timeout=60)
    for me in ("agent-7", "sess-1", "Agent-7", " SESS-1"):
        with pytest.raises(SeparationOfDutiesError):
            queue.approve(req.id, me, "trust me")
    assert queue.get(req.id).votes == ()


def test_separation_of_duties_can_be_switched_off(store, checker):
    queue = ApprovalQueue(store, separation_of_duties=False, audit=None)
    decision, event = escalated(checker)
    req = queue.request(decision, event, timeout=60)
    assert queue.approve(req.id, "agent-7", "solo deployment").status == "approved"


def test_a_viewer_may_not_approve(queue, checker):
    decision, event = escalated(checker)
    req = queue.request(decision, event, timeout=60)
    viewer = ApproverIdentity("vic", frozenset({"viewer"}), "token")
    with pytest.raises(NotAuthorized):
        queue.approve(req.id, viewer, "ok")
    assert queue.get(req.id).status == "pending"


def test_approving_with_the_digest_of_another_call_is_refused(queue, checker):
    small, small_event = escalated(checker, amount=5)
    big, big_event = escalated(checker, amount=5000)
    req_small = queue.request(small, small_event, timeout=60)
    req_big = queue.request(big, big_event, timeout=60)
    # The reviewer looked at the small payment; a click that lands on the big one is refused.
    with pytest.raises(ApprovalConflict, match="digest"):
        queue.approve(req_big.id, "alice", "ok", digest=req_small.digest)
    assert queue.get(req_big.id).status == "pending"


def test_an_approval_cannot_be_used_for_a_different_call(queue, checker):
    small, small_event = escalated(checker, amount=5)
    req = queue.request(small, small_event, timeout=60)
    queue.approve(req.id, "alice", "ok")
    big, _ = escalated(checker, amount=5000)
    refused = queue.consume(req.id, big)
    assert not refused.approved
    assert "different call" in refused.reason
    # Another session with identical arguments is another call too.
    other, _ = escalated(
        checker, amount=5, ctx=SessionContext(session_id="sess-2", user_role="ops")
    )
    assert not queue.consume(req.id, other).approved
    # The approval still opens exactly the call it was given for.
    assert queue.consume(req.id, small).approved


def test_tampered_stored_arguments_do_not_match_the_binding(store, checker, tmp_path):
    queue = ApprovalQueue(store, audit=None)
    decision, event = escalated(checker, amount=5)
    req = queue.request(decision, event, timeout=60)
    queue.approve(req.id, "alice", "ok")
    body = json.loads(queue.get(req.id).body())
    body["args"]["amount"] = 5_000_000
    with store._tx() as ex:
        ex("UPDATE kl_hitl_requests SET body = ? WHERE id = ?", (json.dumps(body), req.id))
    tampered = queue.get(req.id)
    assert tampered.bound_digest() != tampered.digest
    assert not queue.consume(req.id, decision).approved


def test_the_same_decision_cannot_be_queued_twice(queue, checker):
    decision, event = escalated(checker)
    queue.request(decision, event, timeout=60)
    with pytest.raises(Exception):
        queue.request(decision, event, timeout=60)


def test_unknown_request(queue):
    with pytest.raises(UnknownRequest):
        queue.approve("apr_nope", "alice", "ok")
    with pytest.raises(UnknownRequest):
        queue.get("apr_nope")


def test_concurrent_approve_and_deny_resolve_to_exactly_one_outcome(store, checker):
    queue = ApprovalQueue(store, audit=None)
    for _round in range(3):
        decision, event = escalated(checker)
        req = queue.request(decision, event, timeout=60)
        barrier = threading.Barrier(6)
        outcomes: list[str] = []
        lock = threading.Lock()

        def vote(
            i: int,
            req_id: str = req.id,
            barrier: threading.Barrier = barrier,
            lock: threading.Lock = lock,
            outcomes: list[str] = outcomes,
        ) -> None:
            barrier.wait()
            try:
                if i % 2:
                    queue.approve(req_id, f"approver-{i}", "yes")
                    got = "approve"
                else:
                    queue.deny(req_id, f"approver-{i}", "no")
                    got = "deny"
            except ApprovalConflict:
                got = "refused"
            with lock:
                outcomes.append(got)

        threads = [threading.Thread(target=vote, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        final = queue.get(req.id)
        assert outcomes.count("refused") == 5, outcomes
        assert len(final.votes) == 1
        winner = final.votes[0].vote
        assert final.status == ("approved" if winner == "approve" else "denied")
        assert queue.consume(req.id, decision).approved is (winner == "approve")


def test_a_waiter_learns_of_an_approval_made_through_another_connection(store, checker):
    """The decision is made through a second store object (another process or machine); the
    waiter, blocked with a long timeout, returns approved."""
    queue = ApprovalQueue(store, audit=None)
    decision, event = escalated(checker)
    req = queue.request(decision, event, timeout=120)
    other = type(store)(getattr(store, "dsn", None) or store.path)  # type: ignore[attr-defined]
    reviewer = ApprovalQueue(other, audit=None)
    threading.Timer(0.2, reviewer.approve, args=(req.id, "alice", "ok")).start()
    result = queue.wait(req.id, timeout=120)
    assert result.approved
    assert result.approvers == ("alice",)


async def test_async_waiter_learns_of_a_denial(store, checker):
    queue = ApprovalQueue(store, audit=None)
    decision, event = escalated(checker)
    req = await queue.arequest(decision, event, timeout=120)

    async def reviewer() -> None:
        await asyncio.sleep(0.2)
        await queue.adeny(req.id, "bob", "not today")

    task = asyncio.create_task(reviewer())
    result = await queue.await_request(req.id, timeout=120)
    await task
    assert result.status == "denied"
    assert "not today" in result.reason


async def test_async_wait_expires(store, checker):
    queue = ApprovalQueue(store, audit=None)
    decision, event = escalated(checker)
    req = await queue.arequest(decision, event, timeout=0.2)
    result = await queue.await_request(req.id, timeout=0.2)
    assert result.status == "expired"
    assert not result.approved


def test_tokens_are_stored_hashed_and_can_be_revoked(store):
    from kitelogik.anchor.hitl import AuthenticationError, TokenAuthenticator

    auth = TokenAuthenticator(store)
    token = auth.create("alice")
    who = auth.authenticate(token)
    assert who.name == "alice"
    assert "approver" in who.roles
    assert token not in json.dumps(store.list_tokens())
    with pytest.raises(AuthenticationError):
        auth.authenticate(token[:-2] + "xx")
    with pytest.raises(AuthenticationError):
        auth.authenticate(None)
    assert auth.revoke("alice") == 1
    with pytest.raises(AuthenticationError):
        auth.authenticate(token)


def test_sqlite_store_that_cannot_be_opened_raises(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises((OSError, sqlite3.Error)):
        SQLiteApprovalStore(blocker / "approvals.db")
