"""The deployment in docs/opa.md, run for real: the bundle from docs/opa/build-bundle.sh and OPA
started with exactly the command line of docs/opa/docker-compose.yaml (the container's address
and bundle path swapped for loopback ones)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from kitelogik import OPAClient, PolicyGate, SessionContext, ToolCall
from kitelogik.engines.base import EngineError
from kitelogik.engines.rego import RegoEngine
from kitelogik.testing.opa import opa_binary
from kitelogik.testing.services import free_port

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs" / "opa"
CTX = SessionContext(session_id="s1", user_role="support", session_scopes=["fs:read"])
EVENTS = [
    ToolCall(action="web_search", args={"q": "kite"}, context=CTX),
    ToolCall(action="read_file", args={"path": "/etc/shadow"}, context=CTX),
    ToolCall(action="approve_refund", args={"amount": 50}, context=CTX),
]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory):
    binary = opa_binary()
    if binary is None:
        pytest.skip("OPA binary not installed")
    tmp = tmp_path_factory.mktemp("opa-deploy")
    bundle = tmp / "kitelogik.tar.gz"
    subprocess.run(
        [str(DOCS / "build-bundle.sh"), str(bundle)],
        check=True,
        capture_output=True,
        env={**os.environ, "OPA": str(binary)},
    )
    compose = yaml.safe_load((DOCS / "docker-compose.yaml").read_text())
    service = compose["services"]["opa"]
    assert service["ports"] == ["127.0.0.1:8181:8181"]  # never published beyond this machine
    port = free_port()
    command = [
        f"--addr=127.0.0.1:{port}"
        if a.startswith("--addr=")
        else str(bundle)
        if a == "/bundles/kitelogik.tar.gz"
        else a
        for a in service["command"]
    ]
    token = secrets.token_hex(16)
    log = (tmp / "opa.log").open("wb")
    proc = subprocess.Popen(
        [str(binary), *command],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "KITELOGIK_OPA_TOKEN": token},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        probe = OPAClient(url, timeout=1)
        for _ in range(400):
            if probe.health(bundles=True) or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, (tmp / "opa.log").read_text()
        yield url, token, tmp / "opa.log"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_decides_as_the_embedded_engine(deployed) -> None:
    url, token, _ = deployed
    opa = PolicyGate(engine=OPAClient(url, token=token), audit=None)
    embedded = PolicyGate(engine=RegoEngine(policy_dir=REPO / "policies"), audit=None)
    for event in EVENTS:
        a, b = opa.check(event), embedded.check(event)
        assert (a.verdict, a.reasons, a.rules) == (b.verdict, b.reasons, b.rules)


def test_decision_logs_carry_the_decision_id(deployed) -> None:
    url, token, log = deployed
    d = PolicyGate(engine=OPAClient(url, token=token), audit=None).check(EVENTS[0])
    assert d.engine_decision_id
    for _ in range(100):
        if d.engine_decision_id in log.read_text():
            break
        time.sleep(0.05)
    entries = [json.loads(x) for x in log.read_text().splitlines() if d.engine_decision_id in x]
    assert entries
    assert entries[0]["path"] == "kitelogik/main/decision"
    # The bundle's revision (the git revision of the policies) is in every decision log entry.
    assert [b["revision"] for b in entries[0]["bundles"].values()] != [""]
    assert all(b["revision"] for b in entries[0]["bundles"].values())


def test_without_the_token_everything_is_refused(deployed) -> None:
    url, _, _ = deployed
    with pytest.raises(EngineError, match="HTTP 401"):
        OPAClient(url).evaluate('{"action": "web_search"}')
    with pytest.raises(EngineError, match="HTTP 401"):
        OPAClient(url, token="x" * 32).evaluate('{"action": "web_search"}')
    d = PolicyGate(engine=OPAClient(url), audit=None).check(EVENTS[0])
    assert d.verdict == "deny"
    assert OPAClient(url).health() is True  # probes stay open


def test_the_token_cannot_read_or_change_policy(deployed) -> None:
    import httpx

    url, token, _ = deployed
    auth = {"authorization": f"Bearer {token}"}
    with httpx.Client() as c:
        assert c.get(f"{url}/v1/policies", headers=auth).status_code == 401
        assert c.get(f"{url}/v1/data/kitelogik/config", headers=auth).status_code == 401
        put = c.put(f"{url}/v1/data/kitelogik/config", headers=auth, json={})
        assert put.status_code == 401
        assert c.post(f"{url}/v1/data/system/authz", headers=auth, json={}).status_code == 401
