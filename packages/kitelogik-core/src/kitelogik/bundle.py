"""Loading policy directories the way OPA loads a bundle.

A directory holds ``.rego`` modules and data documents: ``data.json`` / ``data.yaml`` in folder
``a/b`` become ``data.a.b``, exactly as ``opa run dir/`` and ``opa build -b dir/`` treat them, so
one directory serves the embedded engine and an OPA fleet unchanged.

Tiers: the bundled (global) policies define ``kitelogik.main``. A user directory that defines
``kitelogik.main`` itself is a complete bundle and is used alone; otherwise it is the project tier,
loaded on top of the global tier. Data from the two tiers may not collide: a project must not be
able to rewrite the global tier's data (a block list, a limit) by shadowing it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "PolicyLoadError",
    "PolicySet",
    "bundled_policy_dir",
    "load_policy_set",
    "snapshot",
]

_MAX_FILE_BYTES = 8 * 1024 * 1024
_MAIN_PACKAGE = re.compile(r"^\s*package\s+kitelogik\.main\s*$", re.MULTILINE)
_DATA_NAMES = ("data.json", "data.yaml", "data.yml")


class PolicyLoadError(ValueError):
    """A policy directory that cannot be loaded; the message names the file."""


@dataclass(frozen=True)
class PolicySet:
    """Sources and data ready to compile. ``modules`` excludes ``*_test.rego`` (test rules may
    use ``with``, which the compiled fast path rejects); ``test_modules`` holds them."""

    modules: tuple[tuple[str, str], ...]
    data: dict[str, Any]
    test_modules: tuple[tuple[str, str], ...] = ()
    dirs: tuple[str, ...] = ()
    version: str = ""
    files: dict[str, str] = field(default_factory=dict)  # module name -> path in its tier

    @property
    def data_json(self) -> str:
        return json.dumps(self.data, sort_keys=True)


def bundled_policy_dir() -> Path:
    """The global tier shipped inside the wheel, or the repository's ``policies/`` when
    running from a source checkout (the wheel build copies that directory in)."""
    packaged = Path(str(resources.files("kitelogik"))) / "_bundle"
    if packaged.is_dir():
        return packaged
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "policies"
        if (candidate / "kitelogik" / "main.rego").is_file():
            return candidate
    raise PolicyLoadError("the bundled Kite Logik policies are missing from this installation")


def _walk(root: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        # Hidden folders (.git, .kitelogik, .manifest dirs) are not policy, as in OPA.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            yield Path(dirpath) / name


def snapshot(dirs: Sequence[str | os.PathLike[str]]) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime, size) of every policy file: cheap change detection for hot reload."""
    out: list[tuple[str, int, int]] = []
    for d in dirs:
        root = Path(d)
        if not root.is_dir():
            out.append((str(root), -1, -1))
            continue
        for p in _walk(root):
            if p.suffix == ".rego" or p.name in _DATA_NAMES or _is_yaml_policy(p):
                try:
                    st = p.stat()
                except OSError:
                    continue
                out.append((str(p), st.st_mtime_ns, st.st_size))
    return tuple(out)


def _read(p: Path) -> str:
    try:
        size = p.stat().st_size
        if size > _MAX_FILE_BYTES:
            raise PolicyLoadError(f"{p}: {size} bytes is larger than the {_MAX_FILE_BYTES} limit")
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyLoadError(f"{p}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise PolicyLoadError(f"{p}: cannot read ({exc.strerror})") from exc


def _load_data(p: Path) -> Any:
    text = _read(p)
    try:
        if p.suffix == ".json":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except Exception as exc:
        raise PolicyLoadError(f"{p}: invalid data document: {exc}") from exc


def _merge(dst: dict[str, Any], src: dict[str, Any], where: str, origin: str) -> None:
    for key, value in src.items():
        here = f"{where}.{key}"
        if key in dst:
            if isinstance(dst[key], dict) and isinstance(value, dict):
                _merge(dst[key], value, here, origin)
                continue
            raise PolicyLoadError(f"{origin}: {here} is already defined by another data document")
        dst[key] = value


def _is_yaml_policy(p: Path) -> bool:
    # YAML policies (docs/policies.md): policy.yaml or *.policy.yaml, compiled to Rego on load.
    n = p.name
    return n in ("policy.yaml", "policy.yml") or n.endswith((".policy.yaml", ".policy.yml"))


def _compile_yaml(p: Path) -> str:
    from kitelogik.policy.compiler import compile_source
    from kitelogik.policy.yamlload import PolicyError

    try:
        return compile_source(_read(p), str(p)).rego
    except PolicyError as exc:  # names file:line:column
        raise PolicyLoadError(str(exc)) from None


def _load_dir(root: Path, tier: str, data: dict[str, Any]) -> tuple[list, list, dict]:
    modules: list[tuple[str, str]] = []
    tests: list[tuple[str, str]] = []
    files: dict[str, str] = {}
    # A .rego written by `kitelogik compile` beside its YAML source is replaced by a fresh
    # compilation of the source, so a stale compiled file can never decide.
    compiled = {p.with_suffix(".rego") for p in _walk(root) if _is_yaml_policy(p)}
    for p in _walk(root):
        rel = p.relative_to(root).as_posix()
        if _is_yaml_policy(p):
            files[str(p)] = rel
            modules.append((str(p), _compile_yaml(p)))
        elif p in compiled and _read(p).startswith("# Code generated by kitelogik compile"):
            continue
        elif p.suffix == ".rego":
            # The file's own path is the module name, so engine errors point at the file.
            name = str(p)
            files[name] = rel
            (tests if p.name.endswith("_test.rego") else modules).append((name, _read(p)))
        elif p.name in _DATA_NAMES:
            doc = _load_data(p)
            parts = [x for x in p.parent.relative_to(root).parts]
            if not isinstance(doc, dict):
                if not parts:
                    raise PolicyLoadError(f"{p}: the root data document must be an object")
                doc = {parts[-1]: doc}
                parts = parts[:-1]
            for part in reversed(parts):
                doc = {part: doc}
            _merge(data, doc, "data", str(p))
    return modules, tests, files


def defines_main(root: str | os.PathLike[str]) -> bool:
    base = Path(root)
    if not base.is_dir():
        return False
    return any(
        p.suffix == ".rego" and not p.name.endswith("_test.rego") and _MAIN_PACKAGE.search(_read(p))
        for p in _walk(base)
    )


def load_policy_set(dirs: Sequence[str | os.PathLike[str]]) -> PolicySet:
    """Load the tiers in order (global first). Raises :class:`PolicyLoadError`."""
    if not dirs:
        raise PolicyLoadError("no policy directory given")
    modules: list[tuple[str, str]] = []
    tests: list[tuple[str, str]] = []
    files: dict[str, str] = {}
    data: dict[str, Any] = {}
    for i, d in enumerate(dirs):
        root = Path(d)
        if not root.is_dir():
            raise PolicyLoadError(f"policy directory not found: {root}")
        m, t, f = _load_dir(root, f"tier{i}", data)
        modules += m
        tests += t
        files.update(f)
    if not modules:
        raise PolicyLoadError(f"no .rego policy files in {', '.join(map(str, dirs))}")
    digest = hashlib.sha256()
    for name, src in sorted(modules + tests):
        digest.update(files[name].encode() + b"\0" + src.encode() + b"\0")
    digest.update(json.dumps(data, sort_keys=True).encode())
    return PolicySet(
        modules=tuple(modules),
        data=data,
        test_modules=tuple(tests),
        dirs=tuple(str(d) for d in dirs),
        version=digest.hexdigest()[:16],
        files=files,
    )
