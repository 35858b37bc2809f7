"""OPA server mode: a gate decision through a real OPA server on loopback, and the client alone.

opa_http_check: PolicyGate(engine=OPAClient(url)).check(event) against OPA 0.70
(scripts/ensure-opa.sh) serving the 60-rule benchmark policy (benchmarks/policy) -- the same
policy and event as gate_check_allow, so the two are comparable.

opa_http_client_floor: the same OPAClient against a loopback responder (in its own process, so it
does not compete for this process's GIL) that returns a fixed decision: the client's own cost.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from kitelogik import OPAClient, PolicyGate, SessionContext, ToolCall
from kitelogik.testing.opa import opa_binary, opa_server

POLICY = Path(__file__).resolve().parents[1] / "policy"
CTX = SessionContext(
    session_id="bench",
    agent_id="a1",
    user_role="engineer",
    session_scopes=["fs:read", "fs:write", "net:http"],
    framework="bench",
)
EVENT = ToolCall(action="read_file", args={"path": "/srv/workspace/a.txt"}, context=CTX)
DECISION = {
    "allow": True,
    "deny": False,
    "requires_hitl": False,
    "reasons": [],
    "risk_tier": "informational",
    "rules": ["global.tools.risk_tier_permits"],
    "obligations": {},
}


def _server() -> tuple[contextlib.ExitStack, str]:
    if opa_binary() is None:
        raise SystemExit("OPA binary missing: run scripts/ensure-opa.sh")
    stack = contextlib.ExitStack()
    server = stack.enter_context(opa_server(POLICY))
    return stack, server.url


def _http_check() -> Any:
    stack, url = _server()
    client = OPAClient(url)
    gate = PolicyGate(engine=client, audit=None)
    got = gate.check(EVENT)
    if got.verdict != "allow":
        stack.close()
        raise SystemExit(f"OPA decided {got.verdict} for the allow scenario: {got.reasons}")

    def cleanup() -> None:
        client.close()
        stack.close()

    return (lambda: gate.check(EVENT)), cleanup


def _client_floor() -> Any:
    body = json.dumps({"result": DECISION, "decision_id": "0190b8a0-0000-7000-8000-000000000000"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "kitelogik.testing.faultproxy", "--body", body],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    client = OPAClient(f"http://127.0.0.1:{port}")
    input_json = PolicyGate(engine=client, audit=None).check(EVENT).input
    text = json.dumps(input_json, separators=(",", ":"))
    if client.evaluate(text).document != DECISION:
        raise SystemExit("responder answered something else")

    def cleanup() -> None:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)

    return (lambda: client.evaluate(text)), cleanup


def scenarios() -> dict[str, Any]:
    return {
        "opa_http_check": _http_check,
        "opa_http_client_floor": _client_floor,
    }
