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
