# ruff: noqa: E501
"""The policy commands, run as a user runs them: the real `kitelogik` CLI in a subprocess (and the
scaffolded agent with the workspace python) in temporary directories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

_ENV = {
    **os.environ,
    "CREWAI_DISABLE_TELEMETRY": "true",
    "OTEL_SDK_DISABLED": "true",
    "NO_COLOR": "1",
    "COLUMNS": "200",
}
_ENV.pop("OPENAI_API_KEY", None)
_ENV.pop("ANTHROPIC_API_KEY", None)


def kl(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from kitelogik.cli import main; main()", *args],
        cwd=cwd,
        env=_ENV,
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("init")
    r = kl("init", "shop", cwd=root)
    assert r.returncode == 0, r.stderr
    return root / "shop"


def test_init_project_runs_immediately(project: Path) -> None:
    for f in (
        "agent.py",
        "README.md",
        "docker-compose.yml",
        "policies/policy.yaml",
        "policies/policy.rego",
        "policies/project_test.rego",
    ):
        assert (project / f).is_file(), f
    compose = (project / "docker-compose.yml").read_text()
    assert '"127.0.0.1:8181:8181"' in compose
    run = subprocess.run(
        [sys.executable, "agent.py"],
        cwd=project,
        env=_ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "ALLOW    Look the order up" in out
    assert "ESCALATE Refund a damaged item" in out
    assert "DENY     Refund the whole year" in out and "refunds above 500" in out
    assert "DENY     Refund with a string amount" in out
    assert "-> order o-1001" in out  # the allowed tool really ran
    test = kl("test", cwd=project)
    assert test.returncode == 0, test.stdout + test.stderr
    assert "PASS: 9/9" in test.stdout
    assert kl("validate", cwd=project).returncode == 0
    assert kl("compile", "--check", cwd=project).returncode == 0


def test_init_refuses_bad_name_and_existing_dir(project: Path) -> None:
    r = kl("init", "shop", cwd=project.parent)
    assert r.returncode == 1 and "not empty" in r.stderr
    r = kl("init", "1 bad;name", cwd=project.parent)
    assert r.returncode == 1 and "project name" in r.stderr


def test_test_command_fails_on_a_failing_case(tmp_path: Path) -> None:
    d = tmp_path / "policies"
    d.mkdir()
    (d / "policy.yaml").write_text(
        "tools: {t: {tier: informational}}\nrules: []\n"
        "tests:\n  - {name: wrong, input: {action: t}, expect: deny}\n"
        "  - {name: right, input: {action: t}, expect: allow}\n"
    )
    (d / "x_test.rego").write_text(
        "package x_test\nimport rego.v1\ntest_ok if true\ntest_bad if false\n"
    )
    r = kl("test", "policies", cwd=tmp_path)
    assert r.returncode == 1
    assert "FAIL" in r.stdout and "wrong" in r.stdout and "test_bad" in r.stdout
    assert "PASS: 2/4, FAIL: 2/4" in r.stdout
    j = json.loads(kl("test", "policies", "--json", cwd=tmp_path).stdout)
    assert (j["passed"], j["failed"], j["ok"]) == (2, 2, False)
    only = kl("test", "policies", "--run", "right|test_ok", cwd=tmp_path)
    assert only.returncode == 0 and "PASS: 2/2" in only.stdout


def test_validate_reports_errors_dead_rules_conflicts_and_builtins(tmp_path: Path) -> None:
    d = tmp_path / "policies"
    d.mkdir()
    (d / "policy.yaml").write_text(
        "rules:\n"
        "  - {name: dead, when: {action: x, args.n: {gt: 10, lt: 5}}, then: deny, reason: r}\n"
        "  - {name: a, when: {action: y}, then: allow, reason: r}\n"
        "  - {name: b, when: {action: y}, then: deny, reason: r}\n"
    )
    (d / "crypto.rego").write_text(
        'package kitelogik.project\nimport rego.v1\nh := crypto.sha256("x")\n'
    )
    r = kl("validate", "policies", cwd=tmp_path)
    assert r.returncode == 1
    assert "policy.yaml:2:" in r.stderr and "can never fire" in r.stderr
    assert "deny always wins" in r.stderr
    assert "crypto.rego:3" in r.stderr and "crypto.sha256" in r.stderr
    assert ": error: rule 'dead' can never fire" in r.stderr
    (d / "crypto.rego").unlink()
    (d / "policy.yaml").write_text(
        "rules:\n  - {name: a, when: {action: y, args.country: NO}, then: deny, reason: r}\n"
    )
    ok = kl("validate", "policies", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "warning: 'NO' is the boolean false" in ok.stderr
    assert kl("validate", "policies", "--strict", cwd=tmp_path).returncode == 1
    (d / "policy.yaml").write_text(
        "rules:\n  - {name: a, when: {action: y}, then: alow, reason: r}\n"
    )
    bad = kl("validate", "policies", cwd=tmp_path)
    assert (
        bad.returncode == 1
        and "policy.yaml:2:" in bad.stderr
        and "then must be one of" in bad.stderr
    )


def test_compile_writes_beside_source_and_never_on_error(tmp_path: Path) -> None:
    d = tmp_path / "policies"
    d.mkdir()
    src = d / "pay.policy.yaml"
    src.write_text("rules:\n  - {name: a, when: {action: y}, then: deny, reason: r}\n")
    r = kl("compile", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = d / "pay.policy.rego"
    first = out.read_text()
    assert first.startswith('# Code generated by kitelogik compile from "pay.policy.yaml"')
    assert kl("compile", "--check", cwd=tmp_path).returncode == 0
    src.write_text(
        'rules:\n  - {name: a, when: {action: y}, then: allow, reason: "r"}\n  - {name: a, when: {action: y}, then: allow, reason: r}\n'
    )
    bad = kl("compile", cwd=tmp_path)
    assert bad.returncode == 1 and "duplicate rule name" in bad.stderr
    assert out.read_text() == first  # nothing written
    assert kl("compile", "--check", cwd=tmp_path).returncode == 1
    o = kl("compile", "policies", "--out", "build", cwd=tmp_path)
    assert o.returncode == 1  # still broken
    assert not (tmp_path / "build").exists()
    src.write_text("rules:\n  - {name: a, when: {action: y}, then: deny, reason: r}\n")
    o = kl("compile", "policies", "--out", "build", cwd=tmp_path)
    assert o.returncode == 0, o.stderr
    assert (tmp_path / "build" / "pay.policy.rego").read_text() == first


def test_eval_and_explain(project: Path) -> None:
    r = kl("explain", "input.json", "--partial", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "verdict: deny" in r.stdout
    assert "project.refunds.cap" in r.stdout and "policy.yaml:" in r.stdout
    j = json.loads(kl("eval", "input.json", "--partial", "--json", cwd=project).stdout)
    assert j["verdict"] == "deny"
    assert "project.refunds.cap" in j["decision"]["rules"]
    assert any(f["rule"] == "project.refunds.cap" and f["kind"] == "deny" for f in j["fired"])
    stdin = kl(
        "eval",
        "-",
        "--json",
        cwd=project,
        stdin='{"event_type": "tool_call", "action": "lookup_order", "args": {}, '
        '"context": {"session_id": "s", "session_scopes": ["orders:read"]}}',
    )
    assert json.loads(stdin.stdout)["verdict"] == "allow"


@pytest.mark.parametrize("content", ["{not json", "- [", "\x00", ""])
def test_eval_bad_input_is_a_clear_error(tmp_path: Path, content: str) -> None:
    (tmp_path / "in.json").write_text(content)
    r = kl("eval", "in.json", "--json", cwd=tmp_path)
    if r.returncode == 0:
        assert json.loads(r.stdout)["verdict"] == "deny"
    else:
        assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr


def test_fmt(tmp_path: Path) -> None:
    d = tmp_path / "policies"
    d.mkdir()
    rego = d / "x.rego"
    rego.write_text(
        "package kitelogik.project   \r\nimport rego.v1\n\n\n\nr := `keep   \ntrailing  ` \n\n"
    )
    check = kl("fmt", "--check", cwd=tmp_path)
    assert check.returncode == 1 and "would reformat" in check.stdout
    assert kl("fmt", cwd=tmp_path).returncode == 0
    assert (
        rego.read_text()
        == "package kitelogik.project\nimport rego.v1\n\nr := `keep   \ntrailing  `\n"
    )
    assert kl("fmt", "--check", cwd=tmp_path).returncode == 0


NASTY = {
    "binary": b"\xff\xfe\x00rules: []",
    "not_utf8": "rules: []\n# caf\xe9\n".encode("latin-1"),
    "deep": ("rules: []\nx: " + "{a: " * 300 + "1" + "}" * 300 + "\n").encode(),
    "huge": b"rules: []\n#" + b"x" * (2 * 1024 * 1024),
    "tabs": b"rules:\n\t- name: a\n",
    "scalar": b"just text\n",
    "rego_in_values": (
        b'tools: {t: {tier: informational}}\nrules:\n  - name: a\n    when: {action: "t\\"} allow contains 1 if true #"}\n'
        b'    then: deny\n    reason: "\\"}\\nallow := true\\n"\n'
    ),
}


@pytest.mark.parametrize("name", sorted(NASTY))
def test_nasty_policy_files_never_crash_or_allow(tmp_path: Path, name: str) -> None:
    d = tmp_path / "policies"
    d.mkdir()
    (d / "policy.yaml").write_bytes(NASTY[name])
    for cmd in (["compile"], ["validate"], ["test"], ["fmt", "--check"]):
        r = kl(*cmd, cwd=tmp_path)
        assert "Traceback" not in r.stderr + r.stdout, (cmd, r.stderr)
        assert r.returncode in (0, 1), (cmd, r.returncode, r.stderr)
    ev = kl(
        "eval",
        "-",
        "--json",
        cwd=tmp_path,
        stdin='{"event_type": "tool_call", "action": "t", "args": {}, "context": {"session_id": "s"}}',
    )
    assert "Traceback" not in ev.stderr
    if ev.returncode == 0:
        assert json.loads(ev.stdout)["verdict"] != "allow" or name == "rego_in_values"
    if name == "rego_in_values":
        # It compiles, and its meaning is only its literals: action "t" is not that string.
        assert json.loads(ev.stdout)["verdict"] == "allow"
        assert "project.a" not in json.loads(ev.stdout)["decision"]["rules"]
