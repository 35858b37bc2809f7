"""Packaging promises shared by every plugin (kitelogik.testing.packaging), and the example."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kitelogik.testing.packaging import PluginPackaging

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parents[2] / "examples" / "crewai" / "agent.py"


class TestCrewAIPackaging(PluginPackaging):
    name = "crewai"
    distribution = "kitelogik-crewai"
    module = "kitelogik_crewai"
    frameworks = ("crewai",)
    pyproject = HERE.parent / "pyproject.toml"


def test_example_runs_offline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env["KITELOGIK_HOME"] = str(tmp_path / "home")
    env["HOME"] = str(tmp_path)
    env["CREWAI_STORAGE_DIR"] = str(tmp_path / "crewai")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "[kitelogik] DENIED read_file: path '/etc/passwd' is under the protected location" in out
    assert "reviewer sees refund" in out
    assert out.count(">> refund of 25.00 for A-1001 executed") == 1
    assert "has been refunded" in out
    assert (tmp_path / "home" / "audit.db").is_file()
