"""CrewAI test environment: telemetry and tracing off, CrewAI's state (storage, config) in a
temporary directory, and an offline proof: any non-loopback DNS lookup or connection fails the
test that made it. CrewAI hooks are process-global: every test starts and ends with none."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

_STATE = tempfile.mkdtemp(prefix="kitelogik-crewai-tests-")
os.environ["CREWAI_DISABLE_TELEMETRY"] = "true"
os.environ["OTEL_SDK_DISABLED"] = "true"
os.environ["CREWAI_TRACING_ENABLED"] = "false"
os.environ["CREWAI_STORAGE_DIR"] = _STATE
os.environ["HOME"] = _STATE
os.environ["XDG_DATA_HOME"] = os.path.join(_STATE, "data")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_STATE, "config")
os.environ.pop("OPENAI_API_KEY", None)

_LOOPBACK = ("127.", "::1", "localhost")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def clean_hooks() -> Iterator[None]:
    from crewai.hooks.dispatch import InterceptionPoint, clear_all, get_hooks

    clear_all()
    yield
    leaked = {p.value: get_hooks(p) for p in InterceptionPoint}
    clear_all()
    assert not any(leaked.values()), f"a test left CrewAI hooks registered: {leaked}"


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
