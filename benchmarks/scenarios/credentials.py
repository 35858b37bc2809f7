"""Session credential scenarios (kitelogik.anchor.credentials).

gate_check_with_credential is the allow decision of core.py's gate_check_allow with a broker
configured and a valid token on the event; gate_check_no_credential_same_input is the same gate
and event without the broker, measured here so the two numbers come from one run. Part of that
difference is the policy itself reading the credential (a larger input document, the scope
intersection in Rego); gate_check_fixed_claims_same_input isolates it: the same input document
with a verifier that returns pre-verified claims, so (with_credential - fixed_claims) is the
cost of verification. The target: verifying adds <= 10 us p50 to a decision (a verified token
is cached by its exact string; every call still checks expiry, key, session and revocation).

credential_verify_uncached is the full check of a token never seen before (Ed25519 signature,
header and claims), credential_verify_strict_sqlite asks the SQLite store about revocation on
every call (strict_revocation=True).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from kitelogik import PolicyGate, RegoEngine, SessionContext, ToolCall
from kitelogik.anchor.credentials import CredentialBroker, TokenVerifier
from kitelogik.engines.base import EngineResult

POLICY = Path(__file__).resolve().parents[1] / "policy"
SCOPES = ["fs:read", "fs:write", "net:http", "email:send", "payments", "payments:refund", "db:read"]
ARGS = {"path": "/srv/workspace/a.txt"}


def _broker(**kw: Any) -> tuple[CredentialBroker, Any]:
    home = tempfile.mkdtemp(prefix="kl-bench-cred-")
    broker = CredentialBroker(home=home, **kw)

    def cleanup() -> None:
        broker.close()
        shutil.rmtree(home, ignore_errors=True)

    return broker, cleanup


def _ctx(token: str | None) -> SessionContext:
    return SessionContext(
        session_id="bench",
        agent_id="a1",
        user_role="engineer",
        session_scopes=SCOPES,
        framework="bench",
        token=token,
    )


def _gate(credentials: Any) -> PolicyGate:
    return PolicyGate(
        engine=RegoEngine(policy_dirs=[POLICY]),
        audit=None,
        resolve_symlinks=False,
        credentials=credentials,
    )


def _with_credential() -> Any:
    broker, cleanup = _broker()
    token = broker.issue("bench", SCOPES, 3600, agent_id="a1").token
    gate = _gate(broker)
    event = ToolCall(action="read_file", args=ARGS, context=_ctx(token))
    d = gate.check(event)
    if d.verdict != "allow" or d.input is None or d.input["credential"] is None:
        raise SystemExit(f"credential scenario decided {d.verdict}: {d.reasons}")
    return (lambda: gate.check(event)), cleanup


def _without_credential() -> Any:
    gate = _gate(None)
    event = ToolCall(action="read_file", args=ARGS, context=_ctx(None))
    if gate.check(event).verdict != "allow":
        raise SystemExit("baseline scenario did not allow")
    return lambda: gate.check(event)


class _FixedClaims:
    """Control: returns claims verified once, so the policy input is identical to
    gate_check_with_credential's and the difference between the two is verification alone."""

    def __init__(self, claims: Any) -> None:
        self.claims = claims

    def verify_for(self, token: str | None, session_id: str) -> Any:
        return self.claims

    async def averify_for(self, token: str | None, session_id: str) -> Any:
        return self.claims


def _fixed_credential() -> Any:
    broker, cleanup = _broker()
    token = broker.issue("bench", SCOPES, 3600, agent_id="a1").token
    gate = _gate(_FixedClaims(broker.verify_for(token, "bench")))
    event = ToolCall(action="read_file", args=ARGS, context=_ctx(token))
    if gate.check(event).verdict != "allow":
        raise SystemExit("control scenario did not allow")
    return (lambda: gate.check(event)), cleanup


class _FixedEngine:
    """An engine that allows everything at no cost: with it, the gate's own pipeline is all
    that is timed, so (pipeline_with_credential - pipeline_no_credential) is exactly what the
    credential step adds to a decision, free of the policy engine's noise."""

    name = "fixed"
    policy_version = "fixed"
    _doc: ClassVar[dict[str, Any]] = {
        "allow": True,
        "deny": False,
        "requires_hitl": False,
        "reasons": ["allowed"],
        "risk_tier": "informational",
        "rules": ["fixed"],
        "obligations": {},
    }

    def evaluate(self, input_json: str) -> EngineResult:
        return EngineResult(self._doc)

    async def aevaluate(self, input_json: str) -> EngineResult:
        return EngineResult(self._doc)


def _pipeline(with_token: bool) -> Any:
    broker, cleanup = _broker()
    token = broker.issue("bench", SCOPES, 3600, agent_id="a1").token
    gate = PolicyGate(
        engine=_FixedEngine(),
        audit=None,
        resolve_symlinks=False,
        credentials=broker if with_token else None,
    )
    event = ToolCall(action="read_file", args=ARGS, context=_ctx(token if with_token else None))
    d = gate.check(event)
    if d.verdict != "allow" or ((d.input or {}).get("credential") is None and with_token):
        raise SystemExit(f"pipeline scenario decided {d.verdict}: {d.reasons}")
    return (lambda: gate.check(event)), cleanup


def _verify_cached() -> Any:
    broker, cleanup = _broker()
    token = broker.issue("bench", SCOPES, 3600).token
    broker.verify_for(token, "bench")
    return (lambda: broker.verify_for(token, "bench")), cleanup


def _verify_uncached() -> Any:
    broker, cleanup = _broker()
    token = broker.issue("bench", SCOPES, 3600).token
    verifier = TokenVerifier(broker.jwks(), cache_size=0)
    return (lambda: verifier.verify_for(token, "bench")), cleanup


def _verify_strict() -> Any:
    broker, cleanup = _broker(strict_revocation=True)
    token = broker.issue("bench", SCOPES, 3600).token
    return (lambda: broker.verify_for(token, "bench")), cleanup


def _issue() -> Any:
    broker, cleanup = _broker()
    return (lambda: broker.issue("bench", SCOPES, 600)), cleanup, 2000


def _delegate() -> Any:
    broker, cleanup = _broker()
    root = broker.issue("bench", SCOPES, 3600)
    return (lambda: broker.delegate(root.token_id, ["fs:read"], "child", 600)), cleanup, 2000


def scenarios() -> dict[str, Any]:
    return {
        "gate_check_with_credential": _with_credential,
        "gate_check_no_credential_same_input": _without_credential,
        "gate_check_fixed_claims_same_input": _fixed_credential,
        "gate_pipeline_with_credential": lambda: _pipeline(True),
        "gate_pipeline_no_credential": lambda: _pipeline(False),
        "credential_verify_cached": _verify_cached,
        "credential_verify_uncached": _verify_uncached,
        "credential_verify_strict_sqlite": _verify_strict,
        "credential_issue_sqlite": _issue,
        "credential_delegate_sqlite": _delegate,
    }
