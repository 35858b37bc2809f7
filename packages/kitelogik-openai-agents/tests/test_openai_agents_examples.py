"""Every example in examples/openai-agents/ runs offline (scripted model, no API key)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples" / "openai-agents").glob("*.py"))


def test_there_is_an_example() -> None:
    assert EXAMPLES


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_offline(path: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["KITELOGIK_HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "[kitelogik] DENIED read_file: path '/etc/shadow' is under the protected location" in out
    assert "approval asked: send_email" in out
    assert "emails sent: ['ada@example.com']" in out
