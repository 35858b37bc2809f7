# ruff: noqa: E501
"""Helpers shared by the policy commands: finding policy files, compiling them, validating a
project directory and evaluating inputs with an explanation of every rule that fired."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kitelogik.policy.compiler import (
    GENERATED_MARKER,
    CompiledPolicy,
    compile_file,
    compiled_path,
    is_policy_file,
)
from kitelogik.policy.yamlload import Loc, PolicyError

__all__ = [
    "Explanation",
    "Finding",
    "Validation",
    "evaluate",
    "iter_policy_files",
    "iter_rego_files",
    "load_input",
    "open_engine",
    "validate_path",
]


def _walk(root: Path) -> Iterable[Path]:
    from kitelogik.bundle import _walk as walk

    yield from walk(root)


def iter_policy_files(paths: Sequence[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += [f for f in _walk(p) if is_policy_file(f)]
        elif p.is_file():
            out.append(p)
    return out


def iter_rego_files(paths: Sequence[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += [f for f in _walk(p) if f.suffix == ".rego"]
        elif p.suffix == ".rego":
            out.append(p)
    return out


def is_generated(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as fh:
            return fh.read(len(GENERATED_MARKER)) == GENERATED_MARKER
    except (OSError, UnicodeDecodeError):
        return False


# --- validation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    level: str  # "error" | "warning"
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.level}: {self.message}"


@dataclass
class Validation:
    findings: list[Finding] = field(default_factory=list)
    compiled: list[CompiledPolicy] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]


def _policy_errors(exc: PolicyError) -> list[Finding]:
    return [Finding("error", str(loc), msg) for loc, msg in exc.errors]


def validate_path(path: str | Path) -> Validation:
    """Everything ``kitelogik validate`` checks, for a policy directory or a single file."""
    from kitelogik.lint import find_unsupported_builtins

    v = Validation()
    root = Path(path)
    if not root.exists():
        v.findings.append(Finding("error", str(root), "no such file or directory"))
        return v
    # YAML policies: syntax, schema, types, dead rules, conflicts.
    packages: dict[str, dict[str, tuple[str, Loc]]] = {}
    tools_in: dict[str, Loc] = {}
    for f in iter_policy_files([root]):
        try:
            c = compile_file(f, f.name)
        except PolicyError as exc:
            v.findings += _policy_errors(exc)
            continue
        v.compiled.append(c)
        dead = set(c.policy.dead)
        v.findings += [
            Finding("error" if (loc, msg) in dead else "warning", str(loc), msg)
            for loc, msg in c.policy.warnings
        ]
        names = packages.setdefault(c.policy.package, {})
        for rule in c.policy.rules:
            if rule.rule_id in names and names[rule.rule_id][0] != str(f):
                first = names[rule.rule_id]
                v.findings.append(
                    Finding(
                        "error",
                        str(rule.loc),
                        f"rule name {rule.name!r} is also used in {first[0]}:{first[1].line}",
                    )
                )
            names.setdefault(rule.rule_id, (str(f), rule.loc))
        # Complete rules (tools, library settings, workspace roots, obligations) can be
        # defined by one file per package; risk_tier combines across files and is not listed.
        for key, loc in c.policy.singletons.items():
            if key == "risk_tier":
                continue
            slot = f"{c.policy.package}#{key}"
            if slot in tools_in:
                v.findings.append(
                    Finding(
                        "error",
                        str(loc),
                        f"{key} is already defined for package {c.policy.package} in "
                        f"{tools_in[slot]}; define it in one file",
                    )
                )
            else:
                tools_in[slot] = loc
        out = compiled_path(f)
        if out.exists() and is_generated(out) and out.read_text(encoding="utf-8") != c.rego:
            v.findings.append(
                Finding(
                    "warning",
                    str(out),
                    f"out of date with {f.name}; run `kitelogik compile` (the embedded engine compiles the YAML itself, OPA reads this file)",
                )
            )
    # Rego modules: unsupported builtins, and a full load + compile of the set.
    for f in iter_rego_files([root]):
        try:
            src = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            v.findings.append(Finding("error", str(f), f"cannot read: {exc}"))
            continue
        for finding in find_unsupported_builtins(str(f), src):
            v.findings.append(
                Finding(
                    "error",
                    f"{finding.file}:{finding.line}",
                    f"builtin {finding.builtin} is not supported by the embedded engine (it would decide differently from OPA)",
                )
            )
        if "import rego.v1" not in src and not is_generated(f):
            v.findings.append(Finding("warning", str(f), "module does not `import rego.v1`"))
    for c in v.compiled:
        for finding in find_unsupported_builtins(c.file, c.rego):
            v.findings.append(
                Finding(
                    "error", c.file, f"compiled module uses unsupported builtin {finding.builtin}"
                )
            )
    if not v.errors and root.is_dir():
        try:
            open_engine(root)
        except PolicyError as exc:
            v.findings += _policy_errors(exc)
        except ValueError as exc:
            v.findings.append(Finding("error", str(root), str(exc)))
    return v


# --- evaluation and explanation ---------------------------------------------------------------


@dataclass
class Engine:
    engine: Any
    policy: Any  # PolicySet
    dirs: list[str]


def open_engine(policy_dir: str | Path | None = None, *, exact: bool = False) -> Engine:
    """An interpreter over the policy set the gate would load for ``policy_dir`` (or exactly that
    directory with ``exact``). Raises ValueError with a clear message."""
    import regorus

    from kitelogik.bundle import PolicyLoadError, load_policy_set
    from kitelogik.engines.rego import engine_error_text, resolve_policy_dirs
    from kitelogik.lint import check_builtins

    try:
        dirs = [str(policy_dir)] if exact else resolve_policy_dirs(policy_dir)
        policy = load_policy_set(dirs)
        check_builtins(policy)
    except PolicyLoadError as exc:
        raise ValueError(str(exc)) from None
    engine = regorus.Engine()  # pyright: ignore[reportAttributeAccessIssue]
    try:
        engine.add_data_json(policy.data_json)
        for name, src in policy.modules:
            engine.add_policy(name, src)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise ValueError(f"policy error: {engine_error_text(exc)}") from None
    return Engine(engine, policy, dirs)


def load_input(path: str, *, partial: bool = False) -> Any:
    """An input document from a JSON or YAML file (``-`` for stdin)."""
    import sys

    from kitelogik.policy.testing import build_input
    from kitelogik.policy.yamlload import load_marked

    if path == "-":
        text = sys.stdin.read()
        name = "<stdin>"
    else:
        p = Path(path)
        try:
            if p.stat().st_size > 8 * 1024 * 1024:
                raise ValueError(f"{path}: input file larger than 8 MiB")
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: cannot read input: {exc}") from None
        name = path
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        try:
            doc = _plain(load_marked(text, name))
        except PolicyError as exc:
            raise ValueError(f"{exc} (expected a JSON or YAML input document)") from None
    if partial:
        if not isinstance(doc, dict):
            raise ValueError(f"{name}: a partial input must be a mapping")
        doc = build_input(doc)
    return doc


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


@dataclass
class Fired:
    kind: str  # deny | allow | escalate | not_allowed
    rule: str
    reason: str
    source: str = ""
    conditions: str = ""


@dataclass
class Explanation:
    verdict: str
    decision: Any
    fired: list[Fired]
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "decision": self.decision,
            "fired": [f.__dict__ for f in self.fired],
            "error": self.error,
        }


def _rule_sources(eng: Engine) -> dict[str, tuple[str, str]]:
    """rule id -> (file:line, conditions) for YAML rules and literal rule ids in Rego."""
    out: dict[str, tuple[str, str]] = {}
    for name, src in eng.policy.modules:
        for m in re.finditer(r'"rule":\s*"([^"\\]+)"', src):
            line = src.count("\n", 0, m.start()) + 1
            out.setdefault(m.group(1), (f"{eng.policy.files.get(name, name)}:{line}", ""))
    for d in eng.dirs:
        for f in iter_policy_files([d]):
            try:
                c = compile_file(f, f.name)
            except PolicyError:
                continue
            for rule in c.policy.rules:
                out[rule.rule_id] = (f"{f}:{rule.loc.line}", rule.when.describe())
    return out


def evaluate(doc: Any, eng: Engine, *, explain: bool = True) -> Explanation:
    from kitelogik.engines.rego import engine_error_text
    from kitelogik.policy.testing import decision_verdict

    e = eng.engine
    try:
        e.set_input_json(json.dumps(doc, allow_nan=False))
        raw = e.eval_rule_as_json("data.kitelogik.main.decision")
    except ValueError as exc:
        return Explanation("deny", None, [], f"the input is not valid JSON: {exc}")
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return Explanation("deny", None, [], f"policy evaluation failed: {engine_error_text(exc)}")
    decision = json.loads(raw) if raw is not None else None
    verdict = decision_verdict(decision)
    fired: list[Fired] = []
    if explain:
        sources = _rule_sources(eng)
        for kind, ref in (
            ("deny", "all_deny"),
            ("escalate", "all_hitl"),
            ("allow", "all_allow"),
            ("not_allowed", "global_not_allowed"),
        ):
            try:
                out = e.eval_rule_as_json(f"data.kitelogik.main.{ref}")
            except BaseException as exc:
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                continue
            entries = json.loads(out) if out else []
            for ent in (
                sorted(entries, key=lambda x: json.dumps(x, sort_keys=True))
                if isinstance(entries, list)
                else []
            ):
                if isinstance(ent, dict):
                    rid = str(ent.get("rule"))
                    src, cond = sources.get(rid, ("", ""))
                    fired.append(Fired(kind, rid, str(ent.get("reason")), src, cond))
        if not fired and isinstance(decision, dict):
            for rid in decision.get("rules", []):
                src, cond = sources.get(rid, ("", ""))
                fired.append(Fired(verdict, rid, "", src, cond))
    return Explanation(verdict, decision, fired)
