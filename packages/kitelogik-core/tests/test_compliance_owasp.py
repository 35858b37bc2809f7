# ruff: noqa: E501
"""`kitelogik compliance`: coverage comes from decisions on probe inputs, never from keywords."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kitelogik.policy.compliance import ITEMS, run_compliance


def _write(d: Path, files: dict[str, str]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def test_every_asi_item_has_threats_and_a_control() -> None:
    assert [i.id for i in ITEMS] == [f"ASI{n:02d}" for n in range(1, 11)]
    for item in ITEMS:
        kinds = {p.expect for p in item.probes}
        assert "allow" in kinds and kinds & {"deny", "block"}, item.id


def test_empty_policy_set_scores_zero(tmp_path: Path) -> None:
    report = run_compliance(_write(tmp_path / "empty", {}), exact=True)
    assert report.coverage == 0 and report.error


def test_deny_everything_scores_zero(tmp_path: Path) -> None:
    d = _write(
        tmp_path / "denyall",
        {
            "main.rego": (
                "package kitelogik.main\nimport rego.v1\n"
                'decision := {"allow": false, "deny": true, "requires_hitl": false, "reasons": ["no"],'
                ' "risk_tier": "informational", "rules": ["x"], "obligations": {}}\n'
            )
        },
    )
    report = run_compliance(d, exact=True)
    assert report.error is None and report.coverage == 0


def test_allow_everything_scores_zero(tmp_path: Path) -> None:
    d = _write(
        tmp_path / "allowall",
        {
            "main.rego": (
                "package kitelogik.main\nimport rego.v1\n"
                "# ASI01 ASI02 goal hijack tool misuse privilege code execution rogue agents\n"
                'decision := {"allow": true, "deny": false, "requires_hitl": false, "reasons": ["ok"],'
                ' "risk_tier": "informational", "rules": ["x"], "obligations": {}}\n'
            )
        },
    )
    report = run_compliance(d, exact=True)
    assert report.coverage == 0
    assert all(p.verdict == "allow" for i in report.items for p in i.probes)


def test_shipped_global_tier_is_covered_with_evidence(tmp_path: Path) -> None:
    report = run_compliance(_write(tmp_path / "project", {}))
    assert report.error is None
    assert report.covered == 10, [
        (i.id, [(p.probe, p.verdict) for p in i.probes if not p.ok]) for i in report.items
    ]
    asi02 = next(i for i in report.items if i.id == "ASI02")
    shadow = next(p for p in asi02.probes if "/etc/shadow" in p.probe)
    assert shadow.verdict == "deny" and shadow.rules


def test_a_project_that_allows_a_threat_loses_the_item(tmp_path: Path) -> None:
    # Registering an exec tool as informational makes the ASI05 probe an allow: the item is lost
    # on evidence, while the others stay covered.
    d = _write(
        tmp_path / "p",
        {"policy.yaml": ("tools: {python_exec: {tier: informational}}\nrules: []\n")},
    )
    report = run_compliance(d)
    by_id = {i.id: i for i in report.items}
    assert not by_id["ASI05"].covered  # python_exec registered as informational: allowed
    assert by_id["ASI02"].covered


def test_cli_json_and_min_coverage(tmp_path: Path) -> None:
    empty = _write(tmp_path / "e", {})
    cmd = [sys.executable, "-c", "from kitelogik.cli import main; main()", "compliance"]
    r = subprocess.run(
        [*cmd, str(empty), "--exact", "--json", "--min-coverage", "10"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1
    data = json.loads(r.stdout)
    assert data["coverage"] == 0 and len(data["items"]) == 10
    ok = subprocess.run(
        [*cmd, str(empty), "--min-coverage", "100"], capture_output=True, text=True, timeout=120
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ASI10 Rogue Agents" in ok.stdout and "coverage: 10/10" in ok.stdout
