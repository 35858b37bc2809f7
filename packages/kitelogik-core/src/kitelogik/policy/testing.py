"""``kitelogik test``: Rego ``test_`` rules and YAML test cases, run on the embedded engine.

Rego tests are the ``test_*`` rules of the ``*_test.rego`` files in the target directory, evaluated
with regorus's interpreter over the whole policy set (global tier, project tier and every test
module, so shared fixtures resolve); a test passes when its rule is ``true``, as in ``opa test``.

YAML test cases (a ``tests:`` list in a policy file or in a ``*_test.yaml`` file) give a partial
input document, deep-merged over :data:`BASE_INPUT`, and the verdict expected from the complete
decision (``data.kitelogik.main.decision``), optionally with rules that must have fired and a text
the reasons must contain.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kitelogik.policy.yamlload import Loc, MarkedList, MarkedMap, PolicyError, load_marked

__all__ = [
    "BASE_INPUT",
    "TestResult",
    "TestRun",
    "build_input",
    "check_yaml_test",
    "decision_verdict",
    "run_tests",
]

BASE_INPUT: dict[str, Any] = {
    "event_type": "tool_call",
    "action": "",
    "args": {},
    "resource": {"paths": [], "hosts": [], "classification": None},
    "context": {
        "session_id": "test-session",
        "agent_id": "test-agent",
        "parent_agent_id": None,
        "user_role": None,
        "session_scopes": [],
        "delegation_depth": 0,
        "framework": None,
    },
    "credential": None,
    "budget": None,
    "data_labels": [],
    "plan": None,
    "spawn": None,
    "tool": None,
    "now_ns": 1700000000000000000,
}

_TEST_KEYS = ("name", "input", "expect", "rules", "reason_contains")
_EXPECT = ("allow", "deny", "escalate")
_TEST_RULE = re.compile(r"^(test_[A-Za-z0-9_]*)\s*(?:if\b|:=|=|\{|contains\b)", re.MULTILINE)
_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.MULTILINE)


def check_yaml_test(t: Any, loc: Loc) -> list[tuple[Loc, str]]:
    """Structural errors in one YAML test case."""
    if not isinstance(t, MarkedMap):
        return [(loc, "a test must be a mapping with name, input and expect")]
    errs: list[tuple[Loc, str]] = []
    for k in t:
        if k not in _TEST_KEYS:
            errs.append(
                (
                    t.key_locs[k],
                    f"unknown field {k!r} in a test; expected one of: {', '.join(_TEST_KEYS)}",
                )
            )
    for req in ("name", "input", "expect"):
        if req not in t:
            errs.append((t.loc, f"test is missing required field {req!r}"))
    if "name" in t and (not isinstance(t["name"], str) or not t["name"].strip()):
        errs.append((t.value_locs["name"], "test name must be a non-empty string"))
    if "input" in t and not isinstance(t["input"], dict):
        errs.append(
            (t.value_locs["input"], "test input must be a mapping (a partial input document)")
        )
    if "expect" in t and t["expect"] not in _EXPECT:
        errs.append(
            (
                t.value_locs["expect"],
                f"expect must be one of {', '.join(_EXPECT)}, got {json.dumps(t['expect'])}",
            )
        )
    if "rules" in t and not (
        isinstance(t["rules"], list) and all(isinstance(r, str) for r in t["rules"])
    ):
        errs.append(
            (
                t.value_locs["rules"],
                "rules must be a list of rule names (e.g. project.refunds.limit)",
            )
        )
    if "reason_contains" in t and not isinstance(t["reason_contains"], str):
        errs.append((t.value_locs["reason_contains"], "reason_contains must be a string"))
    return errs


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base.get(k), v) if k in base else _plain(v)
        return out
    return _plain(over)


def build_input(partial: dict[str, Any]) -> dict[str, Any]:
    """A complete input document: ``partial`` deep-merged over :data:`BASE_INPUT`."""
    return _merge(copy.deepcopy(BASE_INPUT), partial)


def decision_verdict(doc: Any) -> str:
    """The verdict of a decision document, as the gate maps it (anything malformed is deny)."""
    if not isinstance(doc, dict) or doc.get("deny") is not False:
        return "deny"
    if doc.get("requires_hitl") is True:
        return "escalate"
    if doc.get("allow") is True:
        return "allow"
    return "deny"


@dataclass
class TestResult:
    name: str
    where: str
    kind: str  # "rego" | "yaml"
    passed: bool
    message: str = ""


@dataclass
class TestRun:
    results: list[TestResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return sum(not r.passed for r in self.results)

    @property
    def ok(self) -> bool:
        return not self.errors and self.failed == 0


def _under(path: str, roots: Sequence[Path]) -> bool:
    p = Path(path).resolve()
    return any(p == r or r in p.parents for r in roots)


def _yaml_test_files(root: Path) -> list[Path]:
    from kitelogik.bundle import _walk
    from kitelogik.policy.compiler import is_policy_file

    if root.is_file():
        return [root] if root.suffix in (".yaml", ".yml") else []
    return [
        p for p in _walk(root) if is_policy_file(p) or p.name.endswith(("_test.yaml", "_test.yml"))
    ]


def run_tests(
    target: str | Path, *, policy_dirs: Sequence[str] | None = None, run: str | None = None
) -> TestRun:
    """Run the Rego and YAML tests found under ``target`` against the policy set that the gate
    would load for it (or ``policy_dirs`` exactly)."""
    import regorus

    from kitelogik.bundle import PolicyLoadError, load_policy_set
    from kitelogik.engines.rego import engine_error_text, resolve_policy_dirs

    out = TestRun()
    target = Path(target)
    if not target.exists():
        out.errors.append(f"{target}: no such file or directory")
        return out
    root = target if target.is_dir() else target.parent
    try:
        dirs = list(policy_dirs) if policy_dirs is not None else resolve_policy_dirs(root)
        policy = load_policy_set(dirs)
    except PolicyLoadError as exc:
        out.errors.append(str(exc))
        return out
    pattern = re.compile(run) if run else None
    engine = regorus.Engine()  # pyright: ignore[reportAttributeAccessIssue]
    try:
        engine.add_data_json(policy.data_json)
        for name, src in (*policy.modules, *policy.test_modules):
            engine.add_policy(name, src)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        out.errors.append(engine_error_text(exc))
        return out
    roots = [target.resolve()]
    # Rego test rules ------------------------------------------------------------------------
    for name, src in policy.test_modules:
        if not _under(name, roots):
            continue
        pkg = _PACKAGE.search(src)
        if not pkg:
            continue
        seen: set[str] = set()
        for m in _TEST_RULE.finditer(src):
            rule = m.group(1)
            if rule in seen or (pattern and not pattern.search(rule)):
                continue
            seen.add(rule)
            line = src.count("\n", 0, m.start()) + 1
            where = f"{policy.files.get(name, name)}:{line}"
            try:
                engine.set_input_json("{}")
                value = engine.eval_rule_as_json(f"data.{pkg.group(1)}.{rule}")
                ok = value == "true"
                msg = "" if ok else f"expected true, got {value or 'undefined'}"
            except BaseException as exc:
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                ok, msg = False, f"error: {engine_error_text(exc)}"
            out.results.append(TestResult(f"data.{pkg.group(1)}.{rule}", where, "rego", ok, msg))
    # YAML test cases --------------------------------------------------------------------------
    for path in _yaml_test_files(target):
        try:
            cases, locs = _load_yaml_tests(path)
        except PolicyError as exc:
            out.errors.append(str(exc))
            continue
        for case, loc in zip(cases, locs, strict=True):
            name = str(case["name"])
            if pattern and not pattern.search(name):
                continue
            out.results.append(_run_case(engine, case, loc, name))
    return out


def _load_yaml_tests(path: Path) -> tuple[list[Any], list[Loc]]:
    text = path.read_text(encoding="utf-8")
    doc = load_marked(text, str(path))
    if doc is None:
        return [], []
    if not isinstance(doc, MarkedMap):
        raise PolicyError.at(Loc(str(path), 1, 1), "expected a mapping with a 'tests' list")
    tests = doc.get("tests")
    if tests is None:
        return [], []
    if not isinstance(tests, MarkedList):
        raise PolicyError.at(doc.value_locs["tests"], "tests must be a list")
    errs = [e for t, tl in zip(tests, tests.item_locs, strict=True) for e in check_yaml_test(t, tl)]
    if errs:
        raise PolicyError(errs)
    return list(tests), list(tests.item_locs)


def _run_case(engine: Any, case: dict[str, Any], loc: Loc, name: str) -> TestResult:
    from kitelogik.engines.rego import engine_error_text

    where = str(loc)
    try:
        engine.set_input_json(json.dumps(build_input(case["input"])))
        raw = engine.eval_rule_as_json("data.kitelogik.main.decision")
        doc = json.loads(raw) if raw is not None else None
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return TestResult(name, where, "yaml", False, f"error: {engine_error_text(exc)}")
    verdict = decision_verdict(doc)
    problems = []
    if verdict != case["expect"]:
        problems.append(f"expected {case['expect']}, got {verdict}")
    fired = set(doc.get("rules", [])) if isinstance(doc, dict) else set()
    for r in case.get("rules", []) or []:
        if r not in fired:
            problems.append(f"rule {r} did not fire")
    text = case.get("reason_contains")
    reasons = doc.get("reasons", []) if isinstance(doc, dict) else []
    if text and not any(text in r for r in reasons):
        problems.append(f"no reason contains {text!r}")
    if problems and isinstance(doc, dict):
        problems.append(
            f"(rules: {', '.join(doc.get('rules', []))}; reasons: {'; '.join(reasons)})"
        )
    return TestResult(name, where, "yaml", not problems, " ".join(problems))
