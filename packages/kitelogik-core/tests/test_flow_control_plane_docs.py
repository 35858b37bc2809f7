"""Every Python example in docs/control-plane.md runs as written (in a fresh directory)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "control-plane.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)

# What each runnable example must print (in order of appearance).
EXPECT = [
    [
        "{'api_calls': 1.0, 'money': 2.0} {'money': 500.0, 'api_calls': 100.0, 'tokens': 50000.0}",
        "budget exceeded: the requested tokens",
    ],
    [
        "confidential",
        "may not flow to the external tool 'http_get'",
        "('agent.spawn: confidential data may not flow to an agent cleared only for public data',)",
    ],
    ["memory.write: content from tool 'http_get' is claimed as user input"],
    ["['get_weather'] sunny in Oslo"],
]


def test_examples_run(tmp_path: Path) -> None:
    runnable = [b for b in BLOCKS if not b.startswith("# file: ")]
    assert len(runnable) == len(EXPECT)
    for block in BLOCKS:
        if block.startswith("# file: "):
            name = block.splitlines()[0].removeprefix("# file: ").strip()
            (tmp_path / name).write_text(block)
    env = {**os.environ, "KITELOGIK_HOME": str(tmp_path / "home")}
    for block, expected in zip(runnable, EXPECT, strict=True):
        if "mcp" in block:
            pytest.importorskip("mcp")
        proc = subprocess.run(
            [sys.executable, "-c", block],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        for text in expected:
            assert text in proc.stdout, (text, proc.stdout)
