"""Offline proof for plugin tests: any non-loopback DNS lookup or connection fails the test
that made it. Use it from a plugin's ``conftest.py``::

    from kitelogik.testing.offline import no_network  # noqa: F401  (an autouse fixture)
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

__all__ = ["no_network"]

_LOOPBACK = ("127.", "::1", "localhost")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    attempts: list[Any] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, *a: Any, **k: Any) -> Any:
        if host is not None and not str(host).startswith(_LOOPBACK):
            attempts.append(("dns", host))
            raise socket.gaierror(f"offline test: DNS lookup of {host!r} refused")
        return real_getaddrinfo(host, *a, **k)

    def connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and not str(host).startswith(_LOOPBACK):
            attempts.append(("connect", address))
            raise OSError(f"offline test: connection to {address!r} refused")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield attempts
    assert attempts == [], f"the test tried to reach the network: {attempts}"
