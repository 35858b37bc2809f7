"""The built core wheel installs into a fresh virtual environment on its own and runs the
decorator example from there (with the policies bundled inside the wheel)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _uv() -> str:
    found = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    assert Path(found).exists(), "uv is needed (make test installs it)"
    return found


def test_core_wheel_installs_alone_and_runs_the_decorator_example(tmp_path: Path) -> None:
    uv = _uv()
    dist = tmp_path / "dist"
    subprocess.run(
        [uv, "build", "--package", "kitelogik-core", "--wheel", "-o", str(dist)],
        cwd=REPO,
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(dist.glob("kitelogik_core-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run(
        [uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=120
    )
    py = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(py), str(wheel)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"  # no policies/ here: the bundled global tier must be used
    work.mkdir()
    shutil.copy(REPO / "examples" / "01_decorator.py", work / "example.py")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(
        [str(py), "example.py"], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "allowed: <contents of /srv/tickets/4711.txt>" in proc.stdout
    assert "deny: read_file: path '/etc/passwd'" in proc.stdout
    location = subprocess.run(
        [str(py), "-c", "import kitelogik.bundle as b; print(b.bundled_policy_dir())"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(venv) in location.stdout  # policies came from the wheel, not the checkout
