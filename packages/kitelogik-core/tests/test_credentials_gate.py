"""The gate end to end with a real broker and the real shipped policies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kitelogik import Delegation, PolicyGate, SessionContext, ToolCall
from kitelogik.anchor.credentials import CredentialBroker, TokenVerifier
from kitelogik.protocols import CredentialVerifier

READ = {"path": "/srv/data/report.txt"}


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def broker(tmp_path: Path, clock: Clock) -> CredentialBroker:
    b = CredentialBroker(home=tmp_path, clock=clock)
    yield b
    b.close()


@pytest.fixture
def gate(broker: CredentialBroker) -> PolicyGate:
    return PolicyGate(credentials=broker, audit=None)


def test_broker_and_verifier_implement_the_gate_protocol(broker: CredentialBroker) -> None:
    assert isinstance(broker, CredentialVerifier)
    assert isinstance(TokenVerifier(broker.jwks()), CredentialVerifier)


def test_valid_token_allows_and_fills_the_credential(
    gate: PolicyGate, broker: CredentialBroker
) -> None:
    t = broker.issue("s1", ["fs:read"], agent_id="reader")
    ctx = SessionContext("s1", agent_id="spoofed", session_scopes=["fs:read"], token=t.token)
    d = gate.check(ToolCall("read_file", READ, ctx))
    assert d.verdict == "allow", d.reasons
    assert d.input is not None
    assert d.input["credential"]["token_id"] == t.token_id
    assert d.input["credential"]["scopes"] == ["fs:read"]
    assert d.input["context"]["agent_id"] == "reader"  # from the token, not the caller


def test_claimed_scopes_beyond_the_token_are_dropped(
    gate: PolicyGate, broker: CredentialBroker
) -> None:
    t = broker.issue("s1", ["fs:read"])
    ctx = SessionContext("s1", session_scopes=["fs:read", "fs:write", "admin"], token=t.token)
    d = gate.check(ToolCall("write_file", {"path": "/srv/data/x", "content": "x"}, ctx))
    assert d.verdict == "deny"
    assert "fs:write" in " ".join(d.reasons)
    assert d.input is not None
    assert d.input["context"]["session_scopes"] == ["fs:read"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda t: None, "missing token"),
        (lambda t: "not-a-token", "malformed"),
        (lambda t: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"), "signature"),
        (lambda t: "eyJhbGciOiJub25lIn0." + t.split(".")[1] + ".", "alg"),
    ],
)
def test_bad_tokens_are_denied_with_the_precise_reason(
    gate: PolicyGate, broker: CredentialBroker, mutate, expected: str
) -> None:
    t = broker.issue("s1", ["fs:read"])
    ctx = SessionContext("s1", session_scopes=["fs:read"], token=mutate(t.token))
    d = gate.check(ToolCall("read_file", READ, ctx))
    assert d.verdict == "deny"
    assert d.rules == ("kitelogik.credential",)
    assert d.reasons[0].startswith("credential rejected: ")
    assert expected in d.reasons[0]


def test_expired_revoked_and_wrong_session_are_denied(
    gate: PolicyGate, broker: CredentialBroker, clock: Clock
) -> None:
    t = broker.issue("s1", ["fs:read"], ttl_seconds=60)
    ok = SessionContext("s1", session_scopes=["fs:read"], token=t.token)
    assert gate.check(ToolCall("read_file", READ, ok)).verdict == "allow"
    other = SessionContext("s2", session_scopes=["fs:read"], token=t.token)
    assert "session" in gate.check(ToolCall("read_file", READ, other)).reasons[0]
    clock.now += 60 + broker.clock_skew_seconds
    assert "expired" in gate.check(ToolCall("read_file", READ, ok)).reasons[0]
    t2 = broker.issue("s1", ["fs:read"])
    ok2 = SessionContext("s1", session_scopes=["fs:read"], token=t2.token)
    assert gate.check(ToolCall("read_file", READ, ok2)).verdict == "allow"
    broker.revoke(t2.token_id)
    assert "revoked" in gate.check(ToolCall("read_file", READ, ok2)).reasons[0]


def test_delegated_token_sees_only_narrowed_authority(
    gate: PolicyGate, broker: CredentialBroker
) -> None:
    root = broker.issue("s1", ["fs:read", "fs:write"])
    child = broker.delegate(root.token_id, ["fs:read"], "s2", agent_id="helper")
    ctx = SessionContext("s2", session_scopes=["fs:read", "fs:write"], token=child.token)
    assert gate.check(ToolCall("read_file", READ, ctx)).verdict == "allow"
    d = gate.check(ToolCall("write_file", {"path": "/srv/data/x", "content": "x"}, ctx))
    assert d.verdict == "deny"
    assert d.input is not None
    assert d.input["credential"]["depth"] == 1
    assert d.input["context"]["delegation_depth"] == 1
    # a delegation event asking the policy for more than the credential holds is denied
    deleg = Delegation("delegate", {}, ctx, child_scopes=["fs:write"], target_agent_id="x")
    assert gate.check(deleg).verdict == "deny"
    broker.revoke(root.token_id)
    assert "revoked" in gate.check(ToolCall("read_file", READ, ctx)).reasons[0]


async def test_async_gate_path(gate: PolicyGate, broker: CredentialBroker) -> None:
    t = broker.issue("s1", ["fs:read"])
    ctx = SessionContext("s1", session_scopes=["fs:read"], token=t.token)
    assert (await gate.acheck(ToolCall("read_file", READ, ctx))).verdict == "allow"
    broker.revoke(t.token_id)
    d = await gate.acheck(ToolCall("read_file", READ, ctx))
    assert d.verdict == "deny"
    assert "revoked" in d.reasons[0]


def test_gate_with_a_public_key_only_verifier(
    broker: CredentialBroker, tmp_path: Path, clock: Clock
) -> None:
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps(broker.jwks()))
    verifier = TokenVerifier(jwks_file, store=broker.store, clock=clock)
    gate = PolicyGate(credentials=verifier, audit=None)
    t = broker.issue("s1", ["fs:read"])
    ctx = SessionContext("s1", session_scopes=["fs:read"], token=t.token)
    assert gate.check(ToolCall("read_file", READ, ctx)).verdict == "allow"
    broker.revoke(t.token_id)
    clock.now += verifier.revocation_staleness_seconds
    assert "revoked" in gate.check(ToolCall("read_file", READ, ctx)).reasons[0]
    # a broker with another key is not trusted by this verifier
    stranger = CredentialBroker(home=tmp_path / "other", clock=clock)
    s = stranger.issue("s1", ["fs:read"])
    ctx = SessionContext("s1", session_scopes=["fs:read"], token=s.token)
    assert "unknown signing key" in gate.check(ToolCall("read_file", READ, ctx)).reasons[0]
    stranger.close()


def test_governed_toolbox_run_with_credentials(gate: PolicyGate, broker: CredentialBroker) -> None:
    from kitelogik import GovernanceError

    t = broker.issue("s1", ["fs:read"])
    ctx = SessionContext("s1", session_scopes=["fs:read"], token=t.token)
    calls: list[str] = []

    def read_file(path: str) -> str:
        calls.append(path)
        return "content"

    assert gate.run(ToolCall("read_file", READ, ctx), read_file) == "content"
    broker.revoke(t.token_id)
    with pytest.raises(GovernanceError):
        gate.run(ToolCall("read_file", READ, ctx), read_file)
    assert calls == [READ["path"]]
