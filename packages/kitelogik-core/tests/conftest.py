from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OTEL_SDK_DISABLED", "true")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

REPO = Path(__file__).resolve().parents[3]
POLICIES = REPO / "policies"


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A real PostgreSQL server for the whole test session (loopback only)."""
    from kitelogik.testing.services import postgres_server

    with postgres_server() as dsn:
        yield dsn


@pytest.fixture
def kl_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated KITELOGIK_HOME so tests never write into the working directory."""
    monkeypatch.setenv("KITELOGIK_HOME", str(tmp_path / "klhome"))
    return tmp_path / "klhome"


@pytest.fixture(scope="session")
def opa_url() -> Iterator[str]:
    """A real OPA server (OPA 0.70, scripts/ensure-opa.sh) on loopback serving policies/."""
    from kitelogik.testing.opa import opa_binary, opa_server

    if opa_binary() is None:
        pytest.skip("OPA binary not installed: run scripts/ensure-opa.sh (make test does)")
    with opa_server(POLICIES) as server:
        yield server.url
