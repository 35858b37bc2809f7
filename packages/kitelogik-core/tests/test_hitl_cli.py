"""``kitelogik hitl`` and ``kitelogik serve`` through the real Typer app."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from kitelogik import PolicyGate, SessionContext, ToolCall
from kitelogik.anchor.hitl import ApprovalQueue
from kitelogik.cli import app
from typer.testing import CliRunner

#: Approvals are audited to the default log by default: keep it out of the work tree.
pytestmark = pytest.mark.usefixtures("kl_home")

CTX = SessionContext(session_id="sess-cli", agent_id="cli-agent", user_role="ops")
runner = CliRunner()


@pytest.fixture
def escalated(tmp_path: Path):
    """A pending request created by a real gate (the agent waits in a thread)."""
    db = str(tmp_path / "approvals.db")
    queue = ApprovalQueue(db)
    gate = PolicyGate(audit=None, approver=queue, approval_timeout=60)
    ran: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def agent() -> None:
        try:
            gate.run(
                ToolCall(
                    action="wire_money",
                    args={"to": "acct-1", "amount": 9},
                    tool={"risk_tier": "transactional_high"},
                    context=CTX,
                ),
                lambda **kw: ran.append(kw),
            )
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=agent, daemon=True)
    thread.start()
    while not queue.list():
        thread.join(0.02)
    yield db, queue, queue.list()[0], thread, ran, errors
    thread.join(60)


def invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env)


def test_token_list_show_approve_flow(escalated):
    db, _queue, req, thread, ran, _ = escalated
    token = invoke("hitl", "token", "create", "alice", "--store", db).output.strip()
    assert token.startswith("klat_")
    listed = invoke("hitl", "list", "--store", db, "--json")
    assert listed.exit_code == 0
    assert [r["id"] for r in json.loads(listed.output)] == [req.id]
    shown = json.loads(invoke("hitl", "show", req.id, "--store", db).output)
    assert shown["args"] == {"to": "acct-1", "amount": 9}
    result = invoke(
        "hitl",
        "approve",
        req.id,
        "--reason",
        "fine",
        "--digest",
        shown["digest"],
        "--store",
        db,
        env={"KITELOGIK_APPROVER_TOKEN": token},
    )
    assert result.exit_code == 0, result.output
    assert "alice" in result.output
    thread.join(60)
    assert ran == [{"to": "acct-1", "amount": 9}]
    assert "alice\tapprover\tactive" in invoke("hitl", "token", "list", "--store", db).output


def test_cli_approve_needs_a_valid_token(escalated):
    db, queue, req, thread, ran, errors = escalated
    for env in ({}, {"KITELOGIK_APPROVER_TOKEN": "klat_forged"}):
        result = invoke("hitl", "approve", req.id, "--store", db, env=env)
        assert result.exit_code == 1
        assert "refused" in result.output
    assert queue.get(req.id).votes == ()
    # There is no option to name yourself.
    result = invoke("hitl", "approve", req.id, "--store", db, "--approver", "alice")
    assert result.exit_code == 2
    token = invoke("hitl", "token", "create", "bob", "--store", db).output.strip()
    result = invoke("hitl", "deny", req.id, "-r", "no", "--store", db, "--token", token)
    assert result.exit_code == 0
    thread.join(60)
    assert ran == []
    assert errors


def test_cli_self_approval_and_revoked_tokens_are_refused(escalated):
    db, queue, req, _thread, _ran, _ = escalated
    own = invoke("hitl", "token", "create", "cli-agent", "--store", db).output.strip()
    result = invoke("hitl", "approve", req.id, "--store", db, "--token", own)
    assert result.exit_code == 1
    assert "own request" in result.output
    carol = invoke("hitl", "token", "create", "carol", "--store", db).output.strip()
    assert "revoked 1" in invoke("hitl", "token", "revoke", "carol", "--store", db).output
    assert invoke("hitl", "approve", req.id, "--store", db, "--token", carol).exit_code == 1
    assert queue.get(req.id).votes == ()
    queue.deny(req.id, "dave", "cleanup")


def test_cli_show_unknown_and_bad_status(tmp_path):
    db = str(tmp_path / "a.db")
    assert invoke("hitl", "show", "apr_nope", "--store", db).exit_code == 1
    assert invoke("hitl", "list", "--status", "weird", "--store", db).exit_code == 2
    plain = invoke("hitl", "list", "--store", db)
    assert plain.exit_code == 0


def test_serve_refuses_a_public_address_without_opt_in(tmp_path):
    result = invoke("serve", "--host", "0.0.0.0", "--store", str(tmp_path / "a.db"))
    assert result.exit_code == 2
    assert "loopback" in result.output


def _kitelogik(*args: str) -> list[str]:
    import sys

    return [sys.executable, "-c", "from kitelogik.cli import main; main()", *args]


def test_an_approval_from_another_process_reaches_the_waiting_agent(escalated, kl_home):
    """The reviewer runs ``kitelogik hitl approve`` as a separate process; the agent, waiting
    in this process on the same SQLite file, proceeds."""
    import os
    import subprocess

    db, _queue, req, thread, ran, _ = escalated
    token = invoke("hitl", "token", "create", "alice", "--store", db).output.strip()
    env = {**os.environ, "KITELOGIK_APPROVER_TOKEN": token, "KITELOGIK_HOME": str(kl_home)}
    proc = subprocess.run(
        _kitelogik("hitl", "approve", req.id, "-r", "from a shell", "--store", db),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    thread.join(60)
    assert ran == [{"to": "acct-1", "amount": 9}]


@pytest.mark.parametrize("credentials", [False, True])
def test_kitelogik_serve_runs_the_service_on_loopback(tmp_path, kl_home, credentials):
    import os
    import subprocess
    import time

    import httpx
    from kitelogik.testing.services import free_port

    db = str(tmp_path / "approvals.db")
    token = invoke("hitl", "token", "create", "alice", "--store", db).output.strip()
    extra: list[str] = []
    if credentials:  # a signed credential from the broker under the same KITELOGIK_HOME
        from kitelogik.anchor.credentials import CredentialBroker

        with CredentialBroker() as broker:
            token = broker.issue("desk", ["hitl:approve"], agent_id="alice").token
        extra = ["--credentials"]
    port = free_port()
    env = {**os.environ, "KITELOGIK_HOME": str(kl_home)}
    proc = subprocess.Popen(
        _kitelogik("serve", "--port", str(port), "--store", db, *extra),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        end = time.monotonic() + 60
        answer = None
        while time.monotonic() < end and proc.poll() is None:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/whoami",
                    headers={"authorization": f"Bearer {token}"},
                    timeout=5,
                )
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert answer is not None, proc.stdout.read() if proc.stdout else ""
        assert answer.json()["name"] == "alice"
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/whoami", timeout=5).status_code == 401
    finally:
        proc.terminate()
        proc.wait(30)
