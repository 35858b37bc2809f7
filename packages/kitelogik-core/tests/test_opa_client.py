"""OPAClient against a real OPA server (OPA 0.70 on loopback), and how it fails closed.

The failure tests put a fault-injecting proxy (kitelogik.testing.faultproxy) in front of the real
OPA; every failure must raise EngineError with a precise reason and turn into a deny at the gate.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from kitelogik import PolicyGate, SessionContext, ToolCall
from kitelogik.engines.base import EngineError, PolicyEngine
from kitelogik.engines.opa import OPAClient
from kitelogik.engines.rego import RegoEngine
from kitelogik.testing.faultproxy import FaultProxy
from kitelogik.testing.opa import opa_binary, opa_server
from kitelogik.testing.services import free_port

POLICIES = Path(__file__).resolve().parents[3] / "policies"

INPUT = json.dumps(
    {
        "event_type": "tool_call",
        "action": "web_search",
        "args": {"q": "x"},
        "context": {"session_id": "s1", "user_role": "support", "session_scopes": []},
    }
)

CTX = SessionContext(session_id="s1", user_role="support", session_scopes=["fs:read"])
EVENTS = [
    ToolCall(action="web_search", args={"q": "kite"}, context=CTX),
    ToolCall(action="read_file", args={"path": "/srv/data/report.txt"}, context=CTX),
    ToolCall(action="approve_refund", args={"amount": 50}, context=CTX),
    ToolCall(action="not_a_registered_tool", args={}, context=CTX),
    ToolCall(action="read_file", args={"path": "/srv/data/../../etc/passwd"}, context=CTX),
]


@pytest.fixture
def proxy(opa_url: str) -> Iterator[FaultProxy]:
    parts = urlsplit(opa_url)
    with FaultProxy((parts.hostname or "127.0.0.1", parts.port or 8181)) as p:
        yield p


def client(url: str, **kw) -> OPAClient:
    kw.setdefault("timeout", 1.0)
    kw.setdefault("breaker_threshold", 0)
    return OPAClient(url, **kw)


def reason_of(c: OPAClient) -> str:
    with pytest.raises(EngineError) as info:
        c.evaluate(INPUT)
    return str(info.value)


async def areason_of(c: OPAClient) -> str:
    with pytest.raises(EngineError) as info:
        await c.aevaluate(INPUT)
    return str(info.value)


def comparable(d) -> tuple:
    return (d.verdict, d.reasons, d.rules, d.risk_tier, dict(d.obligations))


# -- the real server ---------------------------------------------------------------------------


def test_is_a_policy_engine_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KITELOGIK_OPA_URL", raising=False)
    c = OPAClient()
    assert isinstance(c, PolicyEngine)
    assert c.url == "http://localhost:8181"
    monkeypatch.setenv("KITELOGIK_OPA_URL", "http://opa.internal:9191/")
    assert OPAClient().url == "http://opa.internal:9191"
    assert OPAClient("https://other:1").url == "https://other:1"
    for bad in ("ftp://x", "localhost:8181", "http://", "http://h/?q=1"):
        with pytest.raises(ValueError):
            OPAClient(bad)


def test_gate_decides_as_the_embedded_engine(opa_url: str) -> None:
    opa = PolicyGate(engine=client(opa_url), audit=None)
    embedded = PolicyGate(engine=RegoEngine(policy_dir=POLICIES), audit=None)
    verdicts = set()
    for event in EVENTS:
        a, b = opa.check(event), embedded.check(event)
        assert a.engine == "opa"
        assert comparable(a) == comparable(b), event.action
        verdicts.add(a.verdict)
    assert {"allow", "deny"} <= verdicts


async def test_async_gate_decides_as_the_embedded_engine(opa_url: str) -> None:
    opa = PolicyGate(engine=client(opa_url), audit=None)
    embedded = PolicyGate(engine=RegoEngine(policy_dir=POLICIES), audit=None)
    results = await asyncio.gather(*(opa.acheck(e) for e in EVENTS))
    for event, a in zip(EVENTS, results, strict=True):
        assert comparable(a) == comparable(embedded.check(event))


def test_one_client_survives_many_event_loops(opa_url: str) -> None:
    c = client(opa_url)
    for _ in range(3):  # asyncio.run closes its loop; connections of a dead loop are not reused
        assert asyncio.run(c.aevaluate(INPUT)).document["allow"] is True


def test_threads_share_one_client(opa_url: str) -> None:
    # More threads than connections: requests queue for a connection. (httpcore's own pool queue
    # lost or hung requests here -- "Bad file descriptor", reads that never returned -- so the
    # client queues them itself, before the pool.)
    for _ in range(5):
        c = client(opa_url, max_connections=2, timeout=10)
        out: list[bool] = []
        errors: list[BaseException] = []

        def work(c: OPAClient = c, out: list = out, errors: list = errors) -> None:
            try:
                for _ in range(10):
                    out.append(c.evaluate(INPUT).document["allow"])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert out == [True] * 40
        c.close()


def test_busy_connections_are_bounded_by_the_deadline(proxy: FaultProxy) -> None:
    c = client(proxy.url, max_connections=1, timeout=2.0)
    proxy.set("hang", times=1)
    first = threading.Thread(target=lambda: reason_of(c))
    first.start()
    time.sleep(0.2)
    c.timeout = 0.3  # the next call's deadline ends while the first still holds the connection
    assert "all 1 connections to OPA at" in reason_of(c)
    first.join()


def test_health(opa_url: str) -> None:
    assert client(opa_url).health() is True
    assert client(f"http://127.0.0.1:{free_port()}").health() is False


async def test_ahealth(opa_url: str) -> None:
    assert await client(opa_url).ahealth() is True
    assert await client(f"http://127.0.0.1:{free_port()}").ahealth() is False


def test_decision_id_reaches_the_decision_the_audit_and_opa_decision_log(tmp_path: Path) -> None:
    import sqlite3

    from kitelogik.audit.log import AuditLog

    if opa_binary() is None:
        pytest.skip("OPA binary not installed")
    with opa_server(POLICIES, decision_logs=True) as server:
        audit = AuditLog(tmp_path / "audit.db", signer=None)
        gate = PolicyGate(engine=client(server.url), audit=audit)
        d = gate.check(EVENTS[0])
        audit.flush()
        audit.close()
        db = sqlite3.connect(tmp_path / "audit.db")
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        stored = [
            row
            for t in tables
            for row in db.execute(f'select * from "{t}"')
            if any(isinstance(v, str) and d.engine_decision_id in v for v in row)
        ]
        db.close()
        assert stored, "the audit record does not carry OPA's decision_id"
        assert d.engine_decision_id is not None
        uuid.UUID(d.engine_decision_id)
        assert d.engine_decision_id != d.id
        # OPA flushes console decision logs asynchronously.
        for _ in range(100):
            if d.engine_decision_id in server.log():
                break
            time.sleep(0.05)
        logged = [
            json.loads(line) for line in server.log().splitlines() if d.engine_decision_id in line
        ]
        assert logged, server.log()[-500:]
        assert logged[0]["result"]["allow"] is True


def test_bearer_token_authentication() -> None:
    if opa_binary() is None:
        pytest.skip("OPA binary not installed")
    with opa_server(POLICIES, token="s3cret-token") as server:
        assert "401" in reason_of(client(server.url))
        assert "bearer token" in reason_of(client(server.url, token="wrong"))
        assert client(server.url, token="s3cret-token").evaluate(INPUT).document["allow"] is True
        gate = PolicyGate(engine=client(server.url, token="wrong"), audit=None)
        d = gate.check(EVENTS[0])
        assert d.verdict == "deny"
        assert "HTTP 401" in d.reasons[0]


def test_token_from_environment(monkeypatch: pytest.MonkeyPatch, proxy: FaultProxy) -> None:
    monkeypatch.setenv("KITELOGIK_OPA_TOKEN", "from-env")
    client(proxy.url).evaluate(INPUT)
    assert proxy.last_request_headers["authorization"] == "Bearer from-env"
    with pytest.raises(ValueError):
        OPAClient(proxy.url, token="a\r\nX-Injected: 1")


def test_strict_builtin_errors_is_sent(proxy: FaultProxy) -> None:
    c = client(proxy.url)
    assert "strict-builtin-errors=true" in c._endpoint
    c.evaluate(INPUT)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_tls_is_verified_by_default(tls_files: tuple[Path, Path]) -> None:
    if opa_binary() is None:
        pytest.skip("OPA binary not installed")
    cert, key = tls_files
    port = free_port()
    args = ["--tls-cert-file", str(cert), "--tls-private-key-file", str(key)]
    proc = subprocess.Popen(
        [
            str(opa_binary()),
            "run",
            "--server",
            "--log-level",
            "error",
            "--disable-telemetry",
            "--addr",
            f"127.0.0.1:{port}",
            *args,
            "--bundle",
            str(POLICIES),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"https://127.0.0.1:{port}"
        trusted = client(url, verify=str(cert), retries=3)
        for _ in range(200):
            if trusted.health():
                break
            time.sleep(0.05)
        assert trusted.evaluate(INPUT).document["allow"] is True
        reason = reason_of(client(url))  # a self-signed certificate is not trusted by default
        assert "certificate" in reason.lower() or "tls" in reason.lower()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- failures, each with a precise reason ------------------------------------------------------


def test_connection_refused() -> None:
    port = free_port()
    reason = reason_of(client(f"http://127.0.0.1:{port}"))
    assert "connection refused" in reason
    d = PolicyGate(engine=client(f"http://127.0.0.1:{port}"), audit=None).check(EVENTS[0])
    assert d.verdict == "deny"
    assert d.rules == ("kitelogik.engine",)
    assert "connection refused" in d.reasons[0]


def test_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    # No network in tests: the resolver is made to fail as it does for an unknown name.
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    assert "DNS lookup failed" in reason_of(client("http://opa.example.invalid:8181"))


async def test_async_connection_refused() -> None:
    assert "connection refused" in await areason_of(client(f"http://127.0.0.1:{free_port()}"))


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            500,
            b'{"code":"internal_error","message":"eval_builtin_error: boom"}',
            "HTTP 500: internal_error eval_builtin_error: boom",
        ),
        (400, b'{"code":"invalid_parameter","message":"bad input"}', "HTTP 400"),
        (404, b"", "HTTP 404 (not found"),
        (403, b"nope", "HTTP 403 (forbidden"),
        (503, b"<html>busy</html>", "HTTP 503"),
    ],
)
def test_http_errors(proxy: FaultProxy, status: int, body: bytes, expected: str) -> None:
    proxy.set("respond", status=status, body=body)
    assert expected in reason_of(client(proxy.url, retries=0))


def test_an_allow_in_an_error_response_is_still_a_deny(proxy: FaultProxy) -> None:
    allow = {
        "allow": True,
        "deny": False,
        "requires_hitl": False,
        "reasons": [],
        "risk_tier": "informational",
        "rules": [],
        "obligations": {},
    }
    proxy.set("respond", status=500, body=json.dumps({"result": allow}).encode())
    d = PolicyGate(engine=client(proxy.url), audit=None).check(EVENTS[0])
    assert d.verdict == "deny"
    assert "HTTP 500" in d.reasons[0]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"decision_id":"x"}', "without a result"),
        (b"{}", "without a result"),
        (b'{"result": null}', "wrong shape: expected an object, got null"),
        (b'{"result": [true]}', "wrong shape: expected an object, got list"),
        (b'{"result": "allow"}', "wrong shape: expected an object, got str"),
        (b"[1,2]", "JSON list instead of an object"),
        (b"not json at all", "not JSON"),
        (b"", "empty body"),
        (b'{"result": {"allow": NaN}}', "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b'{"result": {}, "decision_id": 7}', "decision_id that is not a string"),
    ],
)
def test_bad_bodies(proxy: FaultProxy, body: bytes, expected: str) -> None:
    proxy.set("respond", status=200, body=body)
    assert expected in reason_of(client(proxy.url))


def test_malformed_decision_document_is_a_deny(proxy: FaultProxy) -> None:
    proxy.set("respond", status=200, body=b'{"result": {"allow": "yes", "deny": false}}')
    d = PolicyGate(engine=client(proxy.url), audit=None).check(EVENTS[0])
    assert d.verdict == "deny"
    assert "malformed policy decision" in d.reasons[0]


def test_oversized_answer(proxy: FaultProxy) -> None:
    assert "larger than the 64-byte limit" in reason_of(client(proxy.url, max_response_bytes=64))
    big = b'{"result": {"pad": "' + b"x" * 200_000 + b'"}}'
    proxy.set("respond", status=200, body=big, headers={})
    assert "larger than" in reason_of(client(proxy.url, max_response_bytes=100_000))


def test_truncated_body(proxy: FaultProxy) -> None:
    proxy.set("truncate", at=15)
    reason = reason_of(client(proxy.url))
    assert "closed the connection mid-answer" in reason
    assert "truncated" in reason


def test_connection_closed_without_an_answer(proxy: FaultProxy) -> None:
    proxy.set("close")
    assert "closed the connection without answering" in reason_of(client(proxy.url))


def test_connection_reset(proxy: FaultProxy) -> None:
    proxy.set("reset")
    reason = reason_of(client(proxy.url, retries=0))
    assert "OPA at" in reason
    assert "connection lost" in reason or "without answering" in reason


def test_garbage_instead_of_http(proxy: FaultProxy) -> None:
    proxy.set("garbage", body=b"\x00\x01SSH-2.0-not-http\r\n\r\n")
    assert "malformed HTTP response" in reason_of(client(proxy.url))


def test_slow_server_hits_the_deadline(proxy: FaultProxy) -> None:
    proxy.set("delay", delay=30)
    start = time.monotonic()
    reason = reason_of(client(proxy.url, timeout=0.3))
    assert "did not answer within the 0.3 s deadline" in reason
    assert time.monotonic() - start < 20  # far below the 30 s the server would take


def test_hanging_server_hits_the_deadline(proxy: FaultProxy) -> None:
    proxy.set("hang")
    assert "0.3 s deadline" in reason_of(client(proxy.url, timeout=0.3))


def test_a_short_delay_is_fine(proxy: FaultProxy) -> None:
    proxy.set("delay", delay=0.05)
    assert client(proxy.url, timeout=5).evaluate(INPUT).document["allow"] is True


def test_dribbling_server_hits_the_total_deadline(proxy: FaultProxy) -> None:
    # One byte every 0.1 s never trips a per-read timeout of 1 s; only a total deadline stops it.
    # The full answer would take > 20 s to arrive.
    proxy.set("dribble", interval=0.1)
    start = time.monotonic()
    reason = reason_of(client(proxy.url, timeout=1.0))
    assert "did not answer within the 1 s deadline" in reason
    assert time.monotonic() - start < 15


async def test_async_dribbling_server_hits_the_total_deadline(proxy: FaultProxy) -> None:
    proxy.set("dribble", interval=0.1)
    start = time.monotonic()
    reason = await areason_of(client(proxy.url, timeout=1.0))
    assert "deadline" in reason
    assert time.monotonic() - start < 15


async def test_async_failures_are_precise(proxy: FaultProxy) -> None:
    proxy.set("truncate", at=5)
    assert "truncated" in await areason_of(client(proxy.url))
    proxy.set("respond", status=200, body=b'{"result": 3}')
    assert "wrong shape" in await areason_of(client(proxy.url))
    proxy.set("hang")
    assert "deadline" in await areason_of(client(proxy.url, timeout=0.3))


# -- retry and circuit breaker -----------------------------------------------------------------


def test_retry_recovers_from_one_idempotent_failure(proxy: FaultProxy) -> None:
    proxy.set("respond", status=503, body=b"", times=1)
    assert client(proxy.url, retries=1).evaluate(INPUT).document["allow"] is True
    assert proxy.requests == 2
    proxy.set("close", times=1)
    assert client(proxy.url, retries=1).evaluate(INPUT).document["allow"] is True
    assert proxy.requests == 4


def test_retry_is_bounded(proxy: FaultProxy) -> None:
    proxy.set("respond", status=503, body=b"")
    assert "HTTP 503" in reason_of(client(proxy.url, retries=2))
    assert proxy.requests == 3
    before = proxy.requests
    assert "HTTP 503" in reason_of(client(proxy.url, retries=0))
    assert proxy.requests == before + 1


def test_no_retry_for_answers_that_would_repeat(proxy: FaultProxy) -> None:
    proxy.set("respond", status=500, body=b'{"code":"internal_error","message":"x"}')
    reason_of(client(proxy.url, retries=3))
    assert proxy.requests == 1
    proxy.set("truncate", at=3)
    reason_of(client(proxy.url, retries=3))
    assert proxy.requests == 2


async def test_async_retry(proxy: FaultProxy) -> None:
    proxy.set("respond", status=502, body=b"", times=1)
    assert (await client(proxy.url, retries=1).aevaluate(INPUT)).document["allow"] is True
    assert proxy.requests == 2


def test_circuit_breaker_fails_fast_and_recovers(proxy: FaultProxy) -> None:
    c = OPAClient(proxy.url, timeout=1, retries=0, breaker_threshold=3, breaker_cooldown=0.3)
    proxy.set("respond", status=503, body=b"")
    for _ in range(3):
        assert "HTTP 503" in reason_of(c)
    assert c.breaker_state == "open"
    seen = proxy.requests
    for _ in range(5):
        reason = reason_of(c)
        assert "circuit breaker open after 3 consecutive failures" in reason
        assert "HTTP 503" in reason
    assert proxy.requests == seen  # failing fast: OPA was not asked
    d = PolicyGate(engine=c, audit=None).check(EVENTS[0])
    assert d.verdict == "deny"
    assert "circuit breaker open" in d.reasons[0]
    proxy.set("pass")
    time.sleep(0.35)
    assert c.breaker_state == "half-open"
    assert c.evaluate(INPUT).document["allow"] is True  # the trial call closes the circuit
    assert c.breaker_state == "closed"
    assert c.evaluate(INPUT).document["allow"] is True


def test_failed_trial_reopens_the_circuit(proxy: FaultProxy) -> None:
    c = OPAClient(proxy.url, timeout=1, retries=0, breaker_threshold=2, breaker_cooldown=0.2)
    proxy.set("respond", status=503, body=b"")
    reason_of(c)
    reason_of(c)
    time.sleep(0.25)
    assert "HTTP 503" in reason_of(c)  # the trial went through and failed
    assert "circuit breaker open" in reason_of(c)


def test_bad_answers_do_not_open_the_circuit(proxy: FaultProxy) -> None:
    # A reachable OPA that answers badly is not an outage; every call still asks it (and denies).
    c = OPAClient(proxy.url, timeout=1, retries=0, breaker_threshold=2)
    proxy.set("respond", status=200, body=b"{}")
    for _ in range(5):
        assert "without a result" in reason_of(c)
    assert proxy.requests == 5


def test_a_compressed_answer_is_refused(proxy: FaultProxy) -> None:
    # identity is asked for; a gzip body is never decompressed (no decompression bomb).
    import gzip

    body = gzip.compress(b'{"result": {}}')
    proxy.set("respond", status=200, body=body, headers={"Content-Encoding": "gzip"})
    assert "gzip-encoded answer" in reason_of(client(proxy.url))
    assert proxy.last_request_headers["accept-encoding"] == "identity"


async def test_a_cancelled_trial_does_not_wedge_the_circuit(proxy: FaultProxy) -> None:
    c = OPAClient(proxy.url, timeout=5, retries=0, breaker_threshold=1, breaker_cooldown=0.1)
    proxy.set("respond", status=503, body=b"")
    assert "HTTP 503" in await areason_of(c)
    await asyncio.sleep(0.15)
    proxy.set("hang", times=1)
    trial = asyncio.create_task(c.aevaluate(INPUT))
    await asyncio.sleep(0.2)
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    proxy.set("pass")
    assert (await c.aevaluate(INPUT)).document["allow"] is True
    assert c.breaker_state == "closed"


def test_a_token_over_plain_http_to_another_host_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="kitelogik.engine.opa"):
        OPAClient("http://127.0.0.1:8181", token="t" * 20)
        assert not caplog.records
        OPAClient("http://opa.internal:8181", token="t" * 20)
    assert "clear text" in caplog.records[0].getMessage()
    assert "t" * 20 not in caplog.text
