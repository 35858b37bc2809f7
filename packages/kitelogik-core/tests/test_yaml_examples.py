"""The annotated YAML examples and the starter library pass their own tests on the real engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from kitelogik.bundle import bundled_policy_dir
from kitelogik.policy.testing import run_tests

EXAMPLES = sorted((bundled_policy_dir() / "examples" / "yaml").glob("*/*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_yaml_example_passes_its_tests(tmp_path: Path, example: Path) -> None:
    d = tmp_path / "policies"
    d.mkdir()
    shutil.copy(example, d / "policy.yaml")
    run = run_tests(d)
    assert run.ok, (run.errors, [r for r in run.results if not r.passed])
    assert run.passed >= 5


def test_examples_exist() -> None:
    assert {p.stem for p in EXAMPLES} >= {"support_agent", "coding_agent"}


def test_library_packages_pass_their_tests_and_are_inert() -> None:
    lib = bundled_policy_dir() / "library"
    run = run_tests(lib, policy_dirs=[str(bundled_policy_dir())])
    assert run.ok, (run.errors, [r for r in run.results if not r.passed])
    names = {r.name.split(".")[3] for r in run.results}
    assert names >= {
        f"{n}_test"
        for n in (
            "finance",
            "filesystem",
            "code_execution",
            "messaging",
            "data_classification",
            "budgets",
            "delegation",
            "mcp",
        )
    }
    for rego in lib.rglob("*.rego"):
        text = rego.read_text()
        assert "import rego.v1" in text, rego
        package = next(ln for ln in text.splitlines() if ln.startswith("package "))
        assert package.startswith("package kitelogik.library."), rego


def test_library_through_the_gate_with_real_events(tmp_path: Path) -> None:
    from kitelogik import Delegation, PolicyGate, SessionContext, ToolCall

    d = tmp_path / "policies"
    d.mkdir()
    (d / "policy.yaml").write_text(
        "library:\n"
        "  delegation: {allowed_targets: [researcher]}\n"
        "  finance: {max_amount: 200}\n"
        "rules: []\n"
    )
    gate = PolicyGate(policy_dir=d, audit=None)
    ctx = SessionContext(
        session_id="s", user_role="support", session_scopes=["fs:read", "payments:refund"]
    )
    ok = gate.check(
        Delegation(
            action="delegate", context=ctx, child_scopes=["fs:read"], target_agent_id="researcher"
        )
    )
    assert ok.verdict == "allow", ok.reasons
    bad = gate.check(
        Delegation(
            action="delegate", context=ctx, child_scopes=["fs:read"], target_agent_id="mallory"
        )
    )
    assert bad.verdict == "deny" and "library.delegation.target_not_allowed" in bad.rules
    refund = gate.check(ToolCall(action="approve_refund", args={"amount": 300}, context=ctx))
    assert refund.verdict == "deny" and "library.finance.over_limit" in refund.rules
    typed = gate.check(ToolCall(action="approve_refund", args={"amount": "50"}, context=ctx))
    assert typed.verdict == "deny" and "library.finance.bad_amount" in typed.rules
    small = gate.check(ToolCall(action="approve_refund", args={"amount": 50}, context=ctx))
    assert small.verdict == "escalate", small.reasons
