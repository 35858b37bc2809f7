"""The README's Python example runs as printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_readme_example_runs(tmp_path: Path) -> None:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "the README has a Python example"
    script = tmp_path / "readme_example.py"
    script.write_text("\n".join(blocks))
    env = {**os.environ, "KITELOGIK_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("allow")
    assert lines[1] == "<contents of /srv/tickets/1.txt>"
    assert lines[2].startswith("deny") and "/etc" in lines[2]
