"""Packaging (range declared once and enforced at import, entry point, py.typed) and the example."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kitelogik.testing.packaging import PluginPackaging

HERE = Path(__file__).resolve().parent
EXAMPLES = sorted((HERE.parents[2] / "examples" / "google-adk").glob("*.py"))


class TestGoogleADKPackaging(PluginPackaging):
    name = "google-adk"
    distribution = "kitelogik-google-adk"
    module = "kitelogik_google_adk"
    frameworks = ("google-adk",)
    pyproject = HERE.parent / "pyproject.toml"


def test_example_runs_offline(tmp_path: Path) -> None:
    assert EXAMPLES
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["KITELOGIK_HOME"] = str(tmp_path)
    env["OTEL_SDK_DISABLED"] = "true"
    for path in EXAMPLES:
        done = subprocess.run(
            [sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "[kitelogik] DENIED read_file" in done.stdout
        assert "approval asked: send_email" in done.stdout
        assert "emails sent: ['ada@example.com']" in done.stdout
