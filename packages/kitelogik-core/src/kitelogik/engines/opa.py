"""Client for a real OPA server's REST Data API (production / fleet mode).

``OPAClient`` is a :class:`~kitelogik.engines.base.PolicyEngine`: ``PolicyGate(engine=OPAClient())``
sends every decision to ``POST /v1/data/kitelogik/main/decision`` on an OPA server (default
``http://localhost:8181``, or ``$KITELOGIK_OPA_URL``) and maps the answer exactly as it maps the
embedded engine's.

Design, in the order a call meets it:

* One long-lived ``httpx.Client`` and one ``httpx.AsyncClient`` per ``OPAClient``: keep-alive,
  a bounded connection pool, HTTP/1.1, ``TCP_NODELAY``. A fresh client per call costs ~15 ms.
* A **total deadline** per decision (``timeout``, default 2 s) that covers connecting, sending,
  waiting and reading, retries included: every socket operation's timeout is capped at the time
  left, so a server that dribbles one byte at a time cannot hold a call past the deadline.
  ``connect_timeout`` (default 0.5 s) bounds the TCP/TLS connect alone.
* ``strict-builtin-errors=true`` on every query, so OPA raises on a builtin error exactly as the
  embedded engine does, instead of silently making a rule undefined.
* Optional bearer token (OPA's ``--authentication=token``), from ``token=`` or
  ``$KITELOGIK_OPA_TOKEN``. TLS certificates are verified by default.
* OPA's ``decision_id`` (present when decision logging is on) is returned in
  :class:`~kitelogik.engines.base.EngineResult` and lands in ``Decision.engine_decision_id`` and
  the audit record, so both logs can be joined.
* Bounded retry (``retries``, default 1) for failures that are safe to repeat: a refused
  connection, a connection closed before any response byte (a stale keep-alive connection), HTTP
  502/503/504. Only within the deadline. A decision query is read-only, so it is idempotent.
* A circuit breaker: after ``breaker_threshold`` consecutive availability failures (connect
  errors, timeouts, 502/503/504) the client fails fast for ``breaker_cooldown`` seconds, then lets
  one trial call through. Failing fast still denies; it only stops a dead OPA from costing every
  call a full timeout.

Every failure raises :class:`~kitelogik.engines.base.EngineError` whose message says precisely
what went wrong; the gate turns it into a deny with that reason. Nothing here ever produces an
allow from a failure.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Generator, Iterable
from typing import Any, cast
from urllib.parse import urlsplit

import httpcore
import httpx

from kitelogik.engines.base import DECISION_PATH, EngineError, EngineResult

__all__ = ["DEFAULT_URL", "OPAClient"]

log = logging.getLogger("kitelogik.engine.opa")

#: The default OPA address (OPA's own default port).
DEFAULT_URL = "http://localhost:8181"
_ENV_URL = "KITELOGIK_OPA_URL"
_ENV_TOKEN = "KITELOGIK_OPA_TOKEN"  # noqa: S105 - the name of a variable, not a secret

#: Deadline (monotonic seconds) of the decision running in this context; socket timeouts are
#: capped at the time left until it.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "kitelogik_opa_deadline", default=None
)

_SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
_RETRYABLE_STATUS = frozenset({502, 503, 504})


def _cap(timeout: float | None, exc: type[Exception]) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise exc("the total deadline passed")
    return left if timeout is None else min(timeout, left)


# -- network backends whose every operation respects the total deadline --------------------------


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _cap(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _cap(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(
            self._inner.start_tls(
                ssl_context, server_hostname, _cap(timeout, httpcore.ConnectTimeout)
            )
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(
            self._inner.connect_tcp(
                host, port, _cap(timeout, httpcore.ConnectTimeout), local_address, socket_options
            )
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(
            self._inner.connect_unix_socket(
                path, _cap(timeout, httpcore.ConnectTimeout), socket_options
            )
        )

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, _cap(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, _cap(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _AsyncStream(
            await self._inner.start_tls(
                ssl_context, server_hostname, _cap(timeout, httpcore.ConnectTimeout)
            )
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = cast(httpcore.AsyncNetworkBackend, httpcore.AnyIOBackend())

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _AsyncStream(
            await self._inner.connect_tcp(
                host, port, _cap(timeout, httpcore.ConnectTimeout), local_address, socket_options
            )
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _AsyncStream(
            await self._inner.connect_unix_socket(
                path, _cap(timeout, httpcore.ConnectTimeout), socket_options
            )
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _pool_kwargs(ssl_context: ssl.SSLContext, limits: httpx.Limits) -> dict[str, Any]:
    return dict(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=True,
        http2=False,
        retries=0,
        socket_options=_SOCKET_OPTIONS,
    )


class _Transport(httpx.HTTPTransport):
    """httpx's own transport, on a connection pool whose sockets respect the deadline."""

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits) -> None:
        self._pool = httpcore.ConnectionPool(
            **_pool_kwargs(ssl_context, limits), network_backend=_Backend()
        )


class _AsyncTransport(httpx.AsyncHTTPTransport):
    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            **_pool_kwargs(ssl_context, limits), network_backend=_AsyncBackend()
        )


def _ssl_context(verify: bool | str | ssl.SSLContext) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is False:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()


# -- failures ------------------------------------------------------------------------------------


class _Failure(Exception):
    """One attempt failed. ``retry``: safe and useful to repeat; ``outage``: counts toward the
    circuit breaker (the server is unreachable or overloaded, not merely answering badly)."""

    def __init__(self, reason: str, *, retry: bool = False, outage: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.outage = outage


def _snippet(data: bytes, limit: int = 80) -> str:
    text = data[:limit].decode("utf-8", "backslashreplace")
    return json.dumps(text, ensure_ascii=True)[1:-1] + ("..." if len(data) > limit else "")


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes (anyio hides the errno two levels down)."""
    out: list[BaseException] = []
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen or len(out) > 20:
            continue
        seen.add(id(e))
        out.append(e)
        todo += [c for c in (e.__cause__, e.__context__) if c is not None]
        todo += list(getattr(e, "exceptions", ()) or ())
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _Breaker:
    """Consecutive-failure circuit breaker (closed -> open -> half-open -> closed)."""

    def __init__(self, threshold: int, cooldown: float) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._lock = threading.Lock()
        self.failures = 0
        self._open_until = 0.0
        self._trial = False
        self.last_reason = ""

    @property
    def state(self) -> str:
        if self.threshold <= 0 or self.failures < self.threshold:
            return "closed"
        return "open" if time.monotonic() < self._open_until or self._trial else "half-open"

    def admit(self) -> None:
        if self.threshold <= 0:
            return
        with self._lock:
            if self.failures < self.threshold:
                return
            now = time.monotonic()
            if now < self._open_until or self._trial:
                left = max(self._open_until - now, 0.0)
                raise EngineError(
                    f"OPA circuit breaker open after {self.failures} consecutive failures "
                    f"(last: {self.last_reason}); failing fast, next trial in {left:.1f} s"
                )
            self._trial = True  # half-open: this call is the one trial

    def abandon(self) -> None:
        """The call ended without an outcome (cancelled): let the next call be the trial."""
        if self.threshold <= 0:
            return
        with self._lock:
            self._trial = False

    def success(self) -> None:
        if self.threshold <= 0:
            return
        with self._lock:
            self.failures = 0
            self._trial = False

    def failure(self, reason: str, outage: bool) -> None:
        if self.threshold <= 0:
            return
        with self._lock:
            self._trial = False
            if not outage:
                # The server answered: it is reachable. A bad answer is not an outage.
                self.failures = 0
                return
            self.failures += 1
            self.last_reason = reason
            if self.failures >= self.threshold:
                self._open_until = time.monotonic() + self.cooldown


# -- the client ----------------------------------------------------------------------------------


class OPAClient:
    """Evaluates ``data.kitelogik.main.decision`` on an OPA server over HTTP.

    Parameters (defaults in brackets):

    * ``url`` [``$KITELOGIK_OPA_URL`` or ``http://localhost:8181``]: the server's base URL.
    * ``timeout`` [2.0 s]: the total deadline of one decision, retries included.
    * ``connect_timeout`` [0.5 s]: bound on establishing one connection (TCP + TLS).
    * ``token`` [``$KITELOGIK_OPA_TOKEN``]: bearer token for OPA's token authentication.
    * ``verify`` [True]: TLS verification: True (certifi CA bundle), a CA file path, an
      ``ssl.SSLContext``, or False (never in production).
    * ``max_connections`` [16] / ``max_keepalive`` [8] / ``keepalive_expiry`` [30 s]: the pool.
    * ``retries`` [1]: extra attempts for idempotent failures, within the deadline.
    * ``breaker_threshold`` [5] consecutive availability failures open the circuit for
      ``breaker_cooldown`` [5 s]; 0 disables the breaker.
    * ``max_response_bytes`` [1 MiB]: a larger answer is refused.
    * ``path`` [``kitelogik/main/decision``]: the Data API path of the decision rule.
    """

    name = "opa"

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float = 2.0,
        connect_timeout: float = 0.5,
        token: str | None = None,
        verify: bool | str | ssl.SSLContext = True,
        max_connections: int = 16,
        max_keepalive: int = 8,
        keepalive_expiry: float = 30.0,
        retries: int = 1,
        breaker_threshold: int = 5,
        breaker_cooldown: float = 5.0,
        max_response_bytes: int = 1 << 20,
        path: str = DECISION_PATH.removeprefix("data.").replace(".", "/"),
    ) -> None:
        base = (url or os.environ.get(_ENV_URL) or DEFAULT_URL).strip().rstrip("/")
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"OPA URL must be http:// or https:// with a host, got {base!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"OPA URL must not have a query or fragment: {base!r}")
        if timeout <= 0 or connect_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if retries < 0 or max_connections < 1 or max_response_bytes < 1:
            raise ValueError("retries must be >= 0, max_connections and max_response_bytes >= 1")
        self.url = base
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.retries = int(retries)
        self.max_response_bytes = int(max_response_bytes)
        self.path = path.strip("/")
        self._endpoint = f"{base}/v1/data/{self.path}?strict-builtin-errors=true"
        token = token if token is not None else os.environ.get(_ENV_TOKEN) or None
        headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "accept-encoding": "identity",
            "user-agent": "kitelogik-opa-client",
        }
        if token:
            if any(c in token for c in "\r\n"):
                raise ValueError("the OPA token must not contain line breaks")
            headers["authorization"] = f"Bearer {token}"
            if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
                log.warning("sending the OPA bearer token in clear text to %s: use https", base)
        self._headers = headers
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=min(max_keepalive, max_connections),
            keepalive_expiry=keepalive_expiry,
        )
        ctx = _ssl_context(verify)
        # Per-operation timeouts; the total deadline caps each of them further.
        self._timeout = httpx.Timeout(
            self.timeout, connect=min(self.connect_timeout, self.timeout), pool=self.timeout
        )
        self._common: dict[str, Any] = dict(
            headers=headers, timeout=self._timeout, trust_env=False, follow_redirects=False
        )
        self._ssl_context = ctx
        self._limits = limits
        # Decisions go straight to the client's transport (its keep-alive connection pool):
        # cookies, auth flows, redirects and event hooks are per-request client machinery a
        # decision never needs, and skipping them halves the client's cost. health() uses the
        # client itself.
        self._url = httpx.URL(self._endpoint)
        self._request_headers = httpx.Headers(headers)
        self._transport = _Transport(ctx, limits)
        self._client = httpx.Client(transport=self._transport, **self._common)
        # Async connections belong to the event loop that opened them: one client per loop.
        self._aclients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop,
            tuple[httpx.AsyncClient, _AsyncTransport, asyncio.Semaphore],
        ]
        self._aclients = weakref.WeakKeyDictionary()
        self._alock = threading.Lock()
        # At most max_connections requests in flight, so a request never waits inside the
        # connection pool: httpcore's sync pool mishandles waiting requests under thread
        # contention (measured against OPA: a reused socket closed under a reader, "Bad file
        # descriptor", and requests that hang until their timeout). Waiting happens here instead,
        # bounded by the deadline.
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)
        self._breaker = _Breaker(breaker_threshold, breaker_cooldown)

    # -- PolicyEngine ------------------------------------------------------------------------

    @property
    def policy_version(self) -> str:
        """OPA owns the policy; its bundle revision is in OPA's own decision log."""
        return "opa"

    @property
    def breaker_state(self) -> str:
        """``closed`` (normal), ``open`` (failing fast) or ``half-open`` (next call is a trial)."""
        return self._breaker.state

    def _evaluation(self, input_json: str) -> Generator[tuple[bytes, float], Any, EngineResult]:
        """Deadline, retry and circuit-breaker logic shared by :meth:`evaluate` and
        :meth:`aevaluate`: yields ``(body, deadline)`` for each attempt and is sent back the
        attempt's :class:`EngineResult` or its :class:`_Failure`."""
        body = self._body(input_json)
        self._breaker.admit()
        deadline = time.monotonic() + self.timeout
        token = _DEADLINE.set(deadline)
        try:
            attempt = 0
            while True:
                outcome = yield body, deadline
                if isinstance(outcome, _Failure):
                    if self._again(outcome, attempt, deadline):
                        attempt += 1
                        continue
                    self._breaker.failure(outcome.reason, outcome.outage)
                    raise EngineError(outcome.reason) from None
                self._breaker.success()
                return outcome
        except BaseException as exc:
            if not isinstance(exc, EngineError):  # cancelled, interrupted: no outcome
                self._breaker.abandon()
            raise
        finally:
            _DEADLINE.reset(token)

    def evaluate(self, input_json: str) -> EngineResult:
        run = self._evaluation(input_json)
        try:
            request = next(run)
            while True:
                try:
                    outcome: Any = self._attempt(*request)
                except _Failure as failure:
                    outcome = failure
                request = run.send(outcome)
        except StopIteration as stop:
            return stop.value
        finally:
            run.close()

    async def aevaluate(self, input_json: str) -> EngineResult:
        run = self._evaluation(input_json)
        try:
            request = next(run)
            while True:
                try:
                    outcome: Any = await self._aattempt(*request)
                except _Failure as failure:
                    outcome = failure
                request = run.send(outcome)
        except StopIteration as stop:
            return stop.value
        finally:
            run.close()

    def _aclient(self) -> tuple[httpx.AsyncClient, _AsyncTransport, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        pair = self._aclients.get(loop)
        if pair is None:
            with self._alock:
                pair = self._aclients.get(loop)
                if pair is None:
                    transport = _AsyncTransport(self._ssl_context, self._limits)
                    client = httpx.AsyncClient(transport=transport, **self._common)
                    slots = asyncio.Semaphore(self.max_connections)
                    pair = self._aclients[loop] = (client, transport, slots)
        return pair

    def _request(self, body: bytes, deadline: float) -> httpx.Request:
        left = max(deadline - time.monotonic(), 0.001)
        connect = min(self.connect_timeout, left)
        return httpx.Request(
            "POST",
            self._url,
            headers=self._request_headers,
            content=body,
            extensions={"timeout": {"connect": connect, "read": left, "write": left, "pool": left}},
        )

    # -- health and lifecycle ----------------------------------------------------------------

    def health(self, *, bundles: bool = False) -> bool:
        """True when OPA answers ``GET /health`` with 200 (``bundles``: and its bundles are
        activated). Never raises; bypasses the circuit breaker."""
        url = f"{self.url}/health" + ("?bundles" if bundles else "")
        token = _DEADLINE.set(time.monotonic() + self.timeout)
        if not self._slots.acquire(timeout=self.timeout):
            _DEADLINE.reset(token)
            return False
        try:
            return self._client.get(url).status_code == 200
        except Exception:  # noqa: BLE001 - health never raises; any failure is "not healthy"
            return False
        finally:
            self._slots.release()
            _DEADLINE.reset(token)

    async def ahealth(self, *, bundles: bool = False) -> bool:
        url = f"{self.url}/health" + ("?bundles" if bundles else "")
        token = _DEADLINE.set(time.monotonic() + self.timeout)
        client, _, slots = self._aclient()
        try:
            await asyncio.wait_for(slots.acquire(), self.timeout)
        except TimeoutError:
            _DEADLINE.reset(token)
            return False
        try:
            return (await client.get(url)).status_code == 200
        except Exception:  # noqa: BLE001 - health never raises; any failure is "not healthy"
            return False
        finally:
            slots.release()
            _DEADLINE.reset(token)

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        pair = self._aclients.pop(asyncio.get_running_loop(), None)
        if pair is not None:
            await pair[0].aclose()
        self._client.close()

    def __enter__(self) -> OPAClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OPAClient(url={self.url!r}, timeout={self.timeout})"

    # -- one attempt -------------------------------------------------------------------------

    @staticmethod
    def _body(input_json: str) -> bytes:
        if not isinstance(input_json, str):
            raise EngineError("OPAClient.evaluate expects the input document as JSON text")
        return b'{"input":' + input_json.encode("utf-8") + b"}"

    def _again(self, failure: _Failure, attempt: int, deadline: float) -> bool:
        return failure.retry and attempt < self.retries and time.monotonic() < deadline

    def _busy(self) -> _Failure:
        return _Failure(
            f"all {self.max_connections} connections to OPA at {self.url} stayed busy until the "
            f"{self.timeout:g} s deadline"
        )

    def _attempt(self, body: bytes, deadline: float) -> EngineResult:
        if not self._slots.acquire(timeout=max(deadline - time.monotonic(), 0)):
            raise self._busy()
        try:
            return self._attempt_one(body, deadline)
        finally:
            self._slots.release()

    async def _aattempt(self, body: bytes, deadline: float) -> EngineResult:
        _, transport, slots = self._aclient()
        try:
            await asyncio.wait_for(slots.acquire(), max(deadline - time.monotonic(), 0.001))
        except TimeoutError:
            raise self._busy() from None
        try:
            return await self._aattempt_one(transport, body, deadline)
        finally:
            slots.release()

    def _attempt_one(self, body: bytes, deadline: float) -> EngineResult:
        received = b""
        status = 0
        try:
            response = self._transport.handle_request(self._request(body, deadline))
            try:
                status = response.status_code
                self._check_headers(response)
                chunks: list[bytes] = []
                size = 0
                for chunk in response.stream:  # type: ignore[union-attr]
                    size += len(chunk)
                    if size > self.max_response_bytes:
                        raise _Failure(self._too_large())
                    chunks.append(chunk)
                received = b"".join(chunks)
            finally:
                response.close()
        except _Failure:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a precise EngineError
            raise self._transport_failure(exc, status, deadline) from None
        return self._parse(status, received)

    async def _aattempt_one(
        self, transport: _AsyncTransport, body: bytes, deadline: float
    ) -> EngineResult:
        received = b""
        status = 0
        try:
            response = await transport.handle_async_request(self._request(body, deadline))
            try:
                status = response.status_code
                self._check_headers(response)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.stream:  # type: ignore[union-attr]
                    size += len(chunk)
                    if size > self.max_response_bytes:
                        raise _Failure(self._too_large())
                    chunks.append(chunk)
                received = b"".join(chunks)
            finally:
                await response.aclose()
        except _Failure:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a precise EngineError
            raise self._transport_failure(exc, status, deadline) from None
        return self._parse(status, received)

    def _too_large(self) -> str:
        return f"OPA's answer is larger than the {self.max_response_bytes}-byte limit"

    def _check_headers(self, response: httpx.Response) -> None:
        length = response.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_response_bytes:
            raise _Failure(self._too_large())
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            # The raw body is read (no decoders, no decompression bomb): identity was asked for.
            raise _Failure(
                f"OPA at {self.url} sent a {encoding}-encoded answer although identity was asked"
            )

    def _transport_failure(self, exc: BaseException, status: int, deadline: float) -> _Failure:
        where = f"OPA at {self.url}"
        detail = str(exc) or type(exc).__name__
        if isinstance(exc, httpx.TimeoutException) or time.monotonic() >= deadline:
            if isinstance(exc, httpx.ConnectTimeout) and time.monotonic() < deadline:
                return _Failure(
                    f"{where}: connect timed out after {self.connect_timeout:g} s",
                    retry=True,
                    outage=True,
                )
            phase = "while reading its answer" if status else "before it answered"
            return _Failure(
                f"{where} did not answer within the {self.timeout:g} s deadline ({phase})",
                outage=True,
            )
        if isinstance(exc, httpx.ConnectError):
            chain = _chain(exc)
            text = " ".join(str(e) for e in chain).lower()
            if any(isinstance(e, socket.gaierror) for e in chain) or (
                "name or service not known" in text
                or "nodename nor servname" in text
                or "temporary failure in name resolution" in text
            ):
                return _Failure(f"{where}: DNS lookup failed ({detail})", outage=True)
            if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
                return _Failure(f"{where}: connection refused", retry=True, outage=True)
            if any(isinstance(e, ssl.SSLError) for e in chain) or "certificate" in text:
                return _Failure(f"{where}: TLS handshake failed ({detail})", outage=True)
            return _Failure(f"{where}: cannot connect ({detail})", retry=True, outage=True)
        if isinstance(exc, httpx.RemoteProtocolError):
            if status:
                return _Failure(
                    f"{where} closed the connection mid-answer (truncated body after HTTP "
                    f"{status}: {detail})",
                    outage=True,
                )
            if "without sending" in detail.lower() or "disconnected" in detail.lower():
                return _Failure(
                    f"{where} closed the connection without answering", retry=True, outage=True
                )
            return _Failure(f"{where} sent a malformed HTTP response ({detail})", outage=True)
        if isinstance(exc, httpx.ReadError | httpx.WriteError):
            return _Failure(f"{where}: connection lost ({detail})", retry=not status, outage=True)
        if isinstance(exc, httpx.DecodingError):
            return _Failure(f"{where} sent an answer that cannot be decoded ({detail})")
        if isinstance(exc, httpx.HTTPError):
            return _Failure(f"{where}: HTTP error ({type(exc).__name__}: {detail})", outage=True)
        return _Failure(f"{where}: request failed ({type(exc).__name__}: {detail})")

    def _parse(self, status: int, raw: bytes) -> EngineResult:
        where = f"OPA at {self.url}"
        if status != 200:
            message = ""
            try:
                err = json.loads(raw)
                if isinstance(err, dict):
                    message = f": {err.get('code', '')} {str(err.get('message', ''))[:300]}"
            except ValueError:
                if raw:
                    message = f": {_snippet(raw)}"
            hint = {
                401: " (unauthorized: check the bearer token)",
                403: " (forbidden by OPA's authorization policy)",
                404: " (not found: check the URL)",
            }.get(status, "")
            return self._raise(
                f"{where} answered HTTP {status}{hint}{message.rstrip()}",
                retry=status in _RETRYABLE_STATUS,
                outage=status in _RETRYABLE_STATUS,
            )
        try:
            text = raw.decode("utf-8")
            body = json.loads(text, parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            if not raw:
                return self._raise(f"{where} answered HTTP 200 with an empty body")
            return self._raise(
                f"{where} answered HTTP 200 with a body that is not JSON ({exc}; "
                f"starts with {_snippet(raw)})"
            )
        if not isinstance(body, dict):
            return self._raise(
                f"{where} answered with a JSON {type(body).__name__} instead of an object"
            )
        decision_id = body.get("decision_id")
        if decision_id is not None and not isinstance(decision_id, str):
            return self._raise(f"{where} answered with a decision_id that is not a string")
        if "result" not in body:
            return self._raise(
                f"{where} answered without a result: data.{self.path.replace('/', '.')} is "
                "undefined there (is the Kite Logik bundle loaded?)"
            )
        result = body["result"]
        if not isinstance(result, dict):
            return self._raise(
                f"{where} returned a result of the wrong shape: expected an object, got "
                f"{type(result).__name__ if result is not None else 'null'}"
            )
        return EngineResult(result, decision_id)

    @staticmethod
    def _raise(reason: str, *, retry: bool = False, outage: bool = False) -> EngineResult:
        raise _Failure(reason, retry=retry, outage=outage)
