"""Packaging (range declared once and enforced at import, entry point, py.typed) and the example."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kitelogik.testing.packaging import PluginPackaging

HERE = Path(__file__).resolve().parent
EXAMPLES = sorted((HERE.parents[2] / "examples" / "haystack").glob("*.py"))


class TestHaystackPackaging(PluginPackaging):
    name = "haystack"
    distribution = "kitelogik-haystack"
    module = "kitelogik_haystack"
    frameworks = ("haystack-ai",)
    pyproject = HERE.parent / "pyproject.toml"


def test_example_runs_offline(tmp_path: Path) -> None:
    assert EXAMPLES
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["KITELOGIK_HOME"] = str(tmp_path)
    env["HAYSTACK_TELEMETRY_ENABLED"] = "False"
    for path in EXAMPLES:
        done = subprocess.run(
            [sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "[kitelogik] DENIED read_file" in done.stdout
        assert "approval asked: send_email" in done.stdout
        assert "emails sent: ['ada@example.com']" in done.stdout
