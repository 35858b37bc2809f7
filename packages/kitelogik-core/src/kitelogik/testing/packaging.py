"""Packaging checks every plugin shares: subclass :class:`PluginPackaging` in the plugin's tests.

* the supported framework range is declared once (the plugin's ``pyproject.toml`` dependency)
  and is what the import-time check enforces;
* importing the plugin next to a framework outside that range fails with
  :class:`~kitelogik.adapters.UnsupportedFramework` and a message saying how to fix it (checked
  for real: a copy of the plugin's installed metadata declaring an impossible range is put first
  on ``sys.path`` of a fresh interpreter);
* the entry point in group ``kitelogik.adapters`` resolves to the plugin's ``PluginInfo`` and
  ``kitelogik doctor`` reports it supported; the package ships ``py.typed``.
"""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import ClassVar

from kitelogik import adapters

__all__ = ["PluginPackaging"]


class PluginPackaging:
    """Set ``name`` (entry-point name), ``distribution``, ``module``, ``frameworks`` (the
    framework distributions whose ranges are checked at import) and ``pyproject`` (path)."""

    name: ClassVar[str]
    distribution: ClassVar[str]
    module: ClassVar[str]
    frameworks: ClassVar[tuple[str, ...]]
    pyproject: ClassVar[Path]

    def _declared(self) -> dict[str, str]:
        from packaging.requirements import Requirement

        deps = tomllib.loads(self.pyproject.read_text())["project"]["dependencies"]
        return {adapters._normalize(Requirement(d).name): d for d in deps}

    def test_range_declared_once_and_enforced(self) -> None:
        from packaging.requirements import Requirement

        declared = self._declared()
        for fw in self.frameworks:
            enforced = adapters.requirement_for(self.distribution, fw)
            assert enforced is not None, f"{self.distribution} metadata declares no {fw} range"
            assert Requirement(enforced) == Requirement(declared[adapters._normalize(fw)]), (
                f"installed metadata ({enforced}) differs from pyproject.toml: reinstall"
            )
            assert adapters.satisfies(enforced, metadata.version(fw))
            assert not adapters.satisfies(enforced, "0.0.1")

    def test_import_refuses_unsupported_framework(self, tmp_path: Path) -> None:
        dist = metadata.distribution(self.distribution)
        src = Path(str(dist._path))  # type: ignore[attr-defined]
        fake = tmp_path / src.name
        shutil.copytree(src, fake)
        meta = fake / "METADATA"
        fw = self.frameworks[0]
        name_re = "[-_.]".join(re.escape(part) for part in re.split(r"[-_.]+", fw))
        pattern = re.compile(
            rf"^Requires-Dist: {name_re}(?![-_.A-Za-z0-9])[^;\n]*$", re.IGNORECASE | re.MULTILINE
        )
        text, n = pattern.subn(f"Requires-Dist: {fw}>=999", meta.read_text())
        assert n == 1, f"no Requires-Dist line for {fw} in {meta}"
        meta.write_text(text)
        code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import {self.module}"
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode != 0, "the plugin imported next to an unsupported framework"
        assert "UnsupportedFramework" in proc.stderr, proc.stderr[-2000:]
        assert f"supports {fw}>=999" in proc.stderr, proc.stderr[-2000:]
        assert "pip install" in proc.stderr

    def test_entry_point_and_doctor(self) -> None:
        found = {p.name: p for p in adapters.installed_plugins()}
        assert self.name in found, f"no entry point {self.name!r} in {adapters.ENTRY_POINT_GROUP}"
        plugin = found[self.name]
        assert plugin.error is None, plugin.error
        assert plugin.supported
        assert plugin.info is not None
        assert plugin.info.distribution == self.distribution
        assert plugin.info.adapter is not None

    def test_ships_py_typed(self) -> None:
        module = importlib.import_module(self.module)
        assert module.__file__ is not None
        assert (Path(module.__file__).parent / "py.typed").is_file()


def run_example(
    script: Path, tmp_path: Path, *, env: dict[str, str] | None = None, timeout: float = 300
) -> str:
    """Run a plugin's example the way a user would, offline: no ``*_API_KEY`` in the
    environment (so the scripted model is used), its audit log in ``tmp_path/home``, the working
    directory ``tmp_path``. Fails the test on a non-zero exit; returns what it printed."""
    import os

    clean = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    clean["KITELOGIK_HOME"] = str(tmp_path / "home")
    clean.update(env or {})
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout
