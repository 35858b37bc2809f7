"""A fault-injecting HTTP/1.1 proxy on loopback, for testing how clients fail.

It sits in front of a real server (or answers by itself when there is no upstream) and, per
request, does what its current fault says: pass the request through, delay it, answer with a
given status and body, send garbage, truncate the body, close or reset the connection, dribble
the answer one byte at a time, or never answer. Every socket sets ``TCP_NODELAY`` (without it a
Python server adds ~40 ms per request through delayed ACKs).

    with FaultProxy(("127.0.0.1", opa_port)) as proxy:
        client = OPAClient(proxy.url)
        proxy.set("dribble", interval=0.2)      # every request from now on
        proxy.set("status", status=503, times=1)  # only the next request, then pass again

Run as a program it is a fixed responder, for measuring a client's own cost::

    python -m kitelogik.testing.faultproxy --port 0 --body '{"result": {...}}'
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field

__all__ = ["FAULTS", "Fault", "FaultProxy"]

#: The fault kinds :meth:`FaultProxy.set` accepts.
FAULTS = (
    "pass",  # forward to the upstream unchanged
    "delay",  # wait ``delay`` seconds, then forward
    "respond",  # answer ``status`` + ``body`` without asking the upstream
    "status",  # alias of respond (``status`` defaults to 500)
    "garbage",  # send ``body`` (default: bytes that are not HTTP), then close
    "truncate",  # forward, but cut the body after ``at`` bytes and close
    "close",  # read the request, close the connection without answering
    "reset",  # read the request, reset the connection (RST)
    "dribble",  # send the answer one byte every ``interval`` seconds
    "hang",  # read the request and never answer
)

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Fault:
    kind: str = "pass"
    delay: float = 0.0
    status: int = 500
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    at: int = 10
    interval: float = 0.05
    times: int | None = None  # None: until changed


def _nodelay(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _response(
    status: int, body: bytes, headers: dict[str, str] | None = None, length: int | None = None
) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
        "Content-Type: application/json",
        f"Content-Length: {len(body) if length is None else length}",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class FaultProxy:
    """Threaded loopback proxy; ``upstream=None`` answers every request itself (``respond``)."""

    def __init__(
        self,
        upstream: tuple[str, int] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        default_body: bytes = b'{"result":{}}',
    ) -> None:
        self.upstream = upstream
        self.default_body = default_body
        self._fault = Fault("pass" if upstream else "respond", status=200)
        self._base = Fault("pass" if upstream else "respond", status=200)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._conns: set[socket.socket] = set()
        self.requests = 0
        self.connections = 0
        self.last_request_headers: dict[str, str] = {}
        self._listener = socket.create_server((host, port), backlog=128)
        self._listener.settimeout(0.1)  # accept() is not woken by close() from another thread
        self.host, self.port = self._listener.getsockname()[:2]
        self._thread = threading.Thread(target=self._accept_loop, name="faultproxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def set(self, kind: str = "pass", *, times: int | None = None, **params: object) -> None:
        """Apply fault ``kind`` to the next ``times`` requests (all of them when None)."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {FAULTS}")
        if kind == "status":
            kind = "respond"
        fault = Fault(kind, times=times, **params)  # type: ignore[arg-type]
        with self._lock:
            if times is None:
                self._base = fault
            self._fault = fault

    def _next_fault(self) -> Fault:
        with self._lock:
            self.requests += 1
            fault = self._fault
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._fault = self._base
            return fault

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                c.close()
        self._thread.join(timeout=2)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- serving ---------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            _nodelay(conn)
            with self._lock:
                self._conns.add(conn)
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        upstream: http.client.HTTPConnection | None = None
        buf = b""
        try:
            while not self._closed.is_set():
                parsed = self._read_request(conn, buf)
                if parsed is None:
                    return
                method, path, headers, body, buf = parsed
                self.last_request_headers = headers
                fault = self._next_fault()
                keep, upstream = self._apply(conn, fault, method, path, headers, body, upstream)
                if not keep:
                    return
        except OSError:
            return
        finally:
            if upstream is not None:
                upstream.close()
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    @staticmethod
    def _read_request(
        conn: socket.socket, buf: bytes
    ) -> tuple[str, str, dict[str, str], bytes, bytes] | None:
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            rest += chunk
        return method, path, headers, rest[:length], rest[length:]

    def _forward(
        self,
        upstream: http.client.HTTPConnection | None,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, bytes, dict[str, str], http.client.HTTPConnection]:
        if self.upstream is None:
            return 200, self.default_body, {}, upstream  # type: ignore[return-value]
        for attempt in range(2):
            if upstream is None:
                upstream = http.client.HTTPConnection(*self.upstream, timeout=30)
                upstream.connect()
                assert upstream.sock is not None
                _nodelay(upstream.sock)
            try:
                fwd = {
                    k: v
                    for k, v in headers.items()
                    if k in ("content-type", "authorization", "accept")
                }
                upstream.request(method, path, body=body, headers=fwd)
                resp = upstream.getresponse()
                data = resp.read()
                extra = {}
                return resp.status, data, extra, upstream
            except (OSError, http.client.HTTPException):
                upstream.close()
                upstream = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _apply(
        self,
        conn: socket.socket,
        fault: Fault,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        upstream: http.client.HTTPConnection | None,
    ) -> tuple[bool, http.client.HTTPConnection | None]:
        kind = fault.kind
        if kind == "close":
            return False, upstream
        if kind == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False, upstream
        if kind == "hang":
            while not self._closed.wait(0.05):
                pass
            return False, upstream
        if kind == "garbage":
            conn.sendall(fault.body if fault.body is not None else os.urandom(64) + b"\r\n\r\n")
            return False, upstream
        if kind == "respond":
            out = _response(
                fault.status,
                fault.body if fault.body is not None else self.default_body,
                fault.headers,
            )
            conn.sendall(out)
            return True, upstream
        if kind == "delay" and self._closed.wait(fault.delay):
            return False, upstream
        if fault.body is not None:
            status, data, extra = fault.status, fault.body, dict(fault.headers)
        else:
            status, data, extra, upstream = self._forward(upstream, method, path, headers, body)
        if kind == "truncate":
            conn.sendall(_response(status, data[: fault.at], extra, length=len(data)))
            return False, upstream
        out = _response(status, data, extra)
        if kind == "dribble":
            for i in range(len(out)):
                if self._closed.wait(fault.interval):
                    return False, upstream
                conn.sendall(out[i : i + 1])
            return True, upstream
        conn.sendall(out)
        return True, upstream


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="fixed HTTP responder on loopback")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--body", default='{"result":{}}')
    opts = parser.parse_args(argv)
    proxy = FaultProxy(None, port=opts.port, default_body=opts.body.encode())
    print(proxy.port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        proxy.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
