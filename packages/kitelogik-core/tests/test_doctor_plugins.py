"""`kitelogik doctor` and plugin discovery, against real installed distributions (fake plugins
written as real dist-info directories on a fresh interpreter's path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _plugin(root: Path, name: str, requires: list[str], body: str) -> None:
    dist = f"kitelogik_{name}"
    info = root / f"{dist}-0.3.0.dist-info"
    info.mkdir(parents=True)
    meta = [
        "Metadata-Version: 2.1",
        f"Name: kitelogik-{name}",
        "Version: 0.3.0",
        "Requires-Dist: kitelogik-core<0.2,>=0.1",
        *(f"Requires-Dist: {r}" for r in requires),
        'Requires-Dist: rich>=13; extra == "pretty"',
    ]
    (info / "METADATA").write_text("\n".join(meta) + "\n")
    (info / "entry_points.txt").write_text(f"[kitelogik.adapters]\n{name} = {dist}:PLUGIN\n")
    (info / "RECORD").write_text("")
    (root / f"{dist}.py").write_text(body)


GOOD = """
from kitelogik.adapters import PluginInfo, require
require("kitelogik-good", "httpx")
PLUGIN = PluginInfo("good", "kitelogik-good", "httpx", adapter=object, hooks=("hook",))
"""
OLD = """
from kitelogik.adapters import PluginInfo, require
require("kitelogik-old", "httpx")
PLUGIN = PluginInfo("old", "kitelogik-old", "httpx")
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    _plugin(tmp_path, "good", ["httpx<1,>=0.27"], GOOD)
    _plugin(tmp_path, "old", ["httpx>=99"], OLD)
    return tmp_path


def doctor(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-c", "from kitelogik.cli import main; main()", "doctor", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_doctor_reports_ranges_versions_and_support(site: Path) -> None:
    proc = doctor(site, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["plugin"]: r for r in json.loads(proc.stdout)["plugins"]}
    good, old = rows["good"], rows["old"]
    assert good["supported"] is True
    assert good["version"] == "0.3.0"
    assert good["hooks"] == ["hook"]
    assert good["requirements"][0]["requirement"] == "httpx<1,>=0.27"
    assert good["requirements"][0]["ok"] is True
    assert good["requirements"][0]["installed"]
    assert old["supported"] is False
    assert old["requirements"][0]["ok"] is False
    # The plugin's own import-time check refused, with the fix in the message.
    assert "UnsupportedFramework" in old["import_error"]
    assert "supports httpx>=99" in old["import_error"]
    # Extras are not framework requirements.
    assert all("rich" not in r["requirement"] for r in good["requirements"])


def test_doctor_table_and_require(site: Path) -> None:
    proc = doctor(site)
    assert proc.returncode == 0, proc.stderr
    assert "good" in proc.stdout
    assert "supported" in proc.stdout
    assert "import failed" in proc.stdout
    assert doctor(site, "--require", "good").returncode == 0
    assert doctor(site, "--require", "old").returncode == 1
    missing = doctor(site, "--require", "nope")
    assert missing.returncode == 1
    assert "not installed" in missing.stderr


def test_doctor_without_import_reads_metadata_only(site: Path) -> None:
    proc = doctor(site, "--json", "--no-import")
    rows = {r["plugin"]: r for r in json.loads(proc.stdout)["plugins"]}
    assert rows["old"]["import_error"] is None
    assert rows["old"]["supported"] is False  # the range check alone says so
