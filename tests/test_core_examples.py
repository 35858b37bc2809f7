"""Every core example and the demo run as documented, from a clean working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "KITELOGIK_HOME": str(cwd / ".klhome"), "PYTHONPATH": ""}
    env.pop("ANTHROPIC_API_KEY", None)
    env.pop("OPENAI_API_KEY", None)
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_decorator_example(tmp_path: Path) -> None:
    out = run([sys.executable, str(REPO / "examples" / "01_decorator.py")], tmp_path)
    assert "allowed: <contents of /srv/tickets/4711.txt>" in out
    assert "deny: read_file: path '/etc/passwd'" in out
    assert "deny: approve_refund" in out and "no approver" in out


def test_toolbox_example(tmp_path: Path) -> None:
    out = run([sys.executable, str(REPO / "examples" / "02_toolbox.py")], tmp_path)
    lines = [line.split()[:2] for line in out.splitlines()[1:]]
    assert lines == [
        ["ALLOW", "sql_query"],
        ["ALLOW", "http_get"],
        ["DENY", "http_get"],
        ["DENY", "delete_file"],
    ]


def test_demo_shows_all_three_verdicts_with_reasons(tmp_path: Path) -> None:
    out = run([sys.executable, "-m", "kitelogik.cli", "demo"], tmp_path)
    assert "ALLOW" in out and "DENY" in out and "ESCALATE" in out
    assert "global.paths.denied_prefix" in out
    assert "global.budget.exceeded" in out  # a real ledger: 500 tokens asked, 100 allowed
    assert "escalated to a human" in out
    assert not (tmp_path / ".kitelogik").exists()  # the demo does not litter the cwd
