"""Property tests: whatever is requested, delegation never widens authority, and what verifies
is exactly what was issued."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kitelogik.anchor.credentials import CredentialBroker, DelegationError, validate_scopes

# Scope-like strings plus hostile ones: wildcards, case variants, whitespace, unicode look-alikes.
ATOMS = [
    "fs:read",
    "fs:write",
    "db:read",
    "admin",
    "FS:READ",
    "fs:Read",
    "*",
    "fs:*",
    "read*",
    "",
    " ",
    "fs:read ",
    "\uff46s:read",
    "fs:rea\u0501",
    "fs:read\x00",
    "a" * 129,
]
scope = st.one_of(st.sampled_from(ATOMS), st.text(max_size=12))
scopes = st.lists(scope, max_size=6)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> CredentialBroker:
    home: Path = tmp_path_factory.mktemp("cred-props")
    b = CredentialBroker(home=home)
    yield b
    b.close()


def _valid(values: list[str]) -> tuple[str, ...] | None:
    try:
        return validate_scopes(values)
    except (TypeError, ValueError):
        return None


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parent_scopes=scopes, first=scopes, second=scopes)
def test_delegation_never_widens(
    broker: CredentialBroker, parent_scopes: list[str], first: list[str], second: list[str]
) -> None:
    clean = _valid(parent_scopes)
    if clean is None:
        with pytest.raises((TypeError, ValueError)):
            broker.issue("s1", parent_scopes)
        return
    parent = broker.issue("s1", parent_scopes)
    assert broker.verify_for(parent.token, "s1").scopes == clean
    current = parent
    for request in (first, second):
        try:
            child = broker.delegate(current.token_id, request, "s2")
        except DelegationError:
            continue
        granted = broker.verify_for(child.token, "s2").scopes
        assert set(granted) <= set(current.scopes)
        assert granted == tuple(request)
        assert child.expires_at <= current.expires_at
        current = child
