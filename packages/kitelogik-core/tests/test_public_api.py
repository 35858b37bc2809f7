"""The public API is small and stable: DESIGN.md §2 names it."""

from __future__ import annotations

import kitelogik

PUBLIC = {
    "AgentSpawn",
    "DataAccess",
    "Decision",
    "Delegation",
    "GovernanceError",
    "GovernedToolbox",
    "OPAClient",
    "PlanProposal",
    "PlanStep",
    "PolicyGate",
    "RegoEngine",
    "ResourceUse",
    "SessionContext",
    "ToolCall",
    "__version__",
    "governed",
    "session",
}


def test_all_is_exactly_the_documented_api() -> None:
    assert set(kitelogik.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(kitelogik, name) is not None


def test_credential_broker_lives_where_the_design_says() -> None:
    from kitelogik.anchor.credentials import CredentialBroker

    assert callable(CredentialBroker.issue) and callable(CredentialBroker.delegate)
    assert callable(CredentialBroker.verify) and callable(CredentialBroker.revoke)


def test_importing_kitelogik_does_not_import_heavy_optional_modules() -> None:
    import subprocess
    import sys

    code = (
        "import sys, kitelogik; "
        "heavy = [m for m in ('httpx', 'fastapi', 'psycopg', 'opentelemetry', 'mcp', 'jwt') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
