"""Compiled YAML policies decide identically in OPA and the embedded engine.

The oracle is OPA itself: the OPA 1.20 Go engine in process (opa-golib-python-bindings) for the
decisions, and the OPA 0.70 server binary for `opa check` of the compiled modules and the starter
library. Inputs: every YAML test case of the examples plus typed variants of each argument
(numbers, numeric strings, null, booleans, lists, objects)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import regorus
from kitelogik.bundle import bundled_policy_dir, load_policy_set
from kitelogik.engines.rego import resolve_policy_dirs
from kitelogik.policy.compiler import compile_file
from kitelogik.policy.scaffold import POLICY_YAML
from kitelogik.policy.testing import build_input
from kitelogik.testing.opa import opa_binary

opa_bindings = pytest.importorskip(
    "opa_bindings", reason="the OPA oracle is installed by scripts/ensure-opa.sh (make test)"
)

EXAMPLES = sorted((bundled_policy_dir() / "examples" / "yaml").glob("*/*.yaml"))

OPERATORS = """
tools: {t: {tier: informational}}
rules:
  - name: num
    when: {action: t, args.a: {gt: 1, lte: 100}}
    then: deny
    reason: num
  - name: typed
    when:
      action: t
      any: [{args.a: "50"}, {args.a: true}, {args.a: null}, {args.b: {in: [1, "x", false]}}]
    then: escalate
    reason: typed
  - name: strings
    when:
      action: t
      any:
        - args.b: {glob: "/srv/*/x.txt"}
        - args.b: {glob: "**.pem"}
        - args.b: {regex: "^(?i)needle"}
        - args.b: {startswith: "pre", endswith: "post"}
        - args.b: {cidr: ["10.0.0.0/8", "fd00::/8"]}
        - args.b: {contains: needle}
    then: deny
    reason: strings
  - name: lists
    when:
      action: t
      args.c: {any_of: [x, 1], not_contains: bad}
      not: {args.c: {every_item: {in: [x, 1, y]}}}
    then: deny
    reason: lists
  - name: items
    when: {action: t, args.c: {some_item: {gte: 10}}, args.a: {exists: false}}
    then: escalate
    reason: items
"""

VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    50,
    50.5,
    100,
    101,
    -3,
    "50",
    "x",
    "needle in",
    "NEEDLE",
    "/srv/app/x.txt",
    "/srv/a/b/x.txt",
    "/k/a.pem",
    "prefix-post",
    "10.1.2.3",
    "11.0.0.1",
    "fd00::1",
    "999.1.1.1",
    "127.000.000.001",
    "010.1.1.1",
    "::ffff:10.1.1.1",
    "1.2.3",
    [],
    ["x"],
    [1, "y"],
    ["bad", "x"],
    [10],
    [9, 11],
    {"k": 1},
]


def _project(tmp_path: Path, name: str, text: str) -> Path:
    d = tmp_path / name / "policies"
    d.mkdir(parents=True)
    (d / "policy.yaml").write_text(text, encoding="utf-8")
    return d


def _engines(project: Path) -> tuple[Any, Any]:
    policy = load_policy_set(resolve_policy_dirs(project))
    opa = opa_bindings.OpaEngine()
    opa.print_handler = lambda *_: None
    for mod, src in policy.modules:
        opa.add_policy(mod, src)
    opa.add_data(policy.data)
    interp = regorus.Engine()  # pyright: ignore[reportAttributeAccessIssue]
    interp.add_data_json(policy.data_json)
    for mod, src in policy.modules:
        interp.add_policy(mod, src)
    return opa, interp


def _decide(opa: Any, interp: Any, doc: dict[str, Any]) -> tuple[Any, Any]:
    try:
        a = opa.eval_document("kitelogik.main.decision", doc)
    except opa_bindings.OpaError as exc:
        a = f"<error {exc.code}>"
    try:
        interp.set_input_json(json.dumps(doc))
        raw = interp.eval_rule_as_json("data.kitelogik.main.decision")
        b = json.loads(raw) if raw is not None else "<undefined>"
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        b = "<error>"
    return a, b


def _same(a: Any, b: Any) -> bool:
    if (
        isinstance(a, str)
        and a.startswith("<error")
        and isinstance(b, str)
        and b.startswith("<error")
    ):
        return True
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_operator_policy_parity(tmp_path: Path) -> None:
    from kitelogik.engines.rego import RegoEngine

    project = _project(tmp_path, "ops", OPERATORS)
    opa, interp = _engines(project)
    rvm = RegoEngine(policy_dir=project, reload_interval=None)  # the default (fast) path
    assert rvm.error is None, rvm.error
    diffs = []
    seen = 0
    # Every value in every argument, then a fixed random sample of combinations.
    combos = [(v, "x", None) for v in VALUES] + [(50, v, None) for v in VALUES]
    combos += [(None, "x", v) for v in VALUES]
    rnd = random.Random(1234)
    combos += [tuple(rnd.choice(VALUES) for _ in range(3)) for _ in range(500)]
    for a, b, c in combos:
        args = {k: v for k, v in (("a", a), ("b", b), ("c", c)) if v is not None or k == "a"}
        doc = build_input({"action": "t", "args": args})
        x, y = _decide(opa, interp, doc)
        seen += 1
        # No value makes a compiled operator raise a builtin error (that would make engines
        # differ): the decision is a document in OPA, the interpreter and the compiled VM.
        z = rvm.evaluate(json.dumps(doc)).document
        if not isinstance(x, dict) or not _same(x, y) or not _same(x, z):
            diffs.append((args, x, y, z))
    assert seen >= 500
    assert not diffs, diffs[:3]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_policies_parity(tmp_path: Path, example: Path) -> None:
    import yaml

    project = _project(tmp_path, example.stem, example.read_text())
    opa, interp = _engines(project)
    cases = yaml.safe_load(example.read_text())["tests"]
    diffs = []
    for case in cases:
        base = build_input(case["input"])
        variants = [base]
        for key in list(base["args"]):
            for v in (None, "1", 1, True, [], {"x": 1}):
                variants.append({**base, "args": {**base["args"], key: v}})
        for doc in variants:
            x, y = _decide(opa, interp, doc)
            if not _same(x, y):
                diffs.append((case["name"], doc["args"], x, y))
    assert not diffs, diffs[:3]


def test_opa_070_accepts_compiled_yaml_and_the_library(tmp_path: Path) -> None:
    binary = opa_binary()
    if binary is None:
        pytest.skip("the OPA 0.70 binary is installed by scripts/ensure-opa.sh (make test)")
    out = tmp_path / "compiled"
    out.mkdir()
    sources = {
        **{p.stem: p.read_text() for p in EXAMPLES},
        "ops": OPERATORS,
        "scaffold": POLICY_YAML.format(name="shop"),
    }
    for name, text in sources.items():
        src = tmp_path / f"{name}.policy.yaml"
        src.write_text(text)
        d = out / name
        d.mkdir()
        (d / "policy.rego").write_text(compile_file(src).rego)
        global_copy = tmp_path / f"global_{name}"
        shutil.copytree(
            bundled_policy_dir(),
            global_copy,
            ignore=shutil.ignore_patterns("*.yaml", "*.yml", "*.md"),
        )
        r = subprocess.run(
            [str(binary), "check", str(global_copy), str(d)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, (name, r.stdout, r.stderr)
    # The whole shipped directory, as users run it (non-bundle mode also loads every YAML file
    # as a data document: the YAML examples must not collide) and as a bundle.
    for mode in ([], ["-b"]):
        r = subprocess.run(
            [str(binary), "test", *mode, str(bundled_policy_dir())],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stdout + r.stderr


def test_compiled_project_on_a_real_opa_server_matches_the_embedded_engine(tmp_path: Path) -> None:
    """`kitelogik compile` output served by OPA 0.70 (bundle mode, as a fleet runs it) decides
    every YAML test case of the scaffold and the examples exactly as the embedded engine does."""
    import yaml
    from kitelogik import OPAClient
    from kitelogik.engines.rego import RegoEngine
    from kitelogik.policy.testing import decision_verdict
    from kitelogik.testing.opa import opa_server

    if opa_binary() is None:
        pytest.skip("the OPA 0.70 binary is installed by scripts/ensure-opa.sh (make test)")
    sources = {p.stem: p.read_text() for p in EXAMPLES}
    sources["scaffold"] = POLICY_YAML.format(name="shop")
    for name, text in sources.items():
        project = _project(tmp_path, name, text)
        (project / "policy.rego").write_text(compile_file(project / "policy.yaml").rego)
        bundle = tmp_path / f"bundle_{name}"
        shutil.copytree(bundled_policy_dir(), bundle)
        shutil.copy(project / "policy.rego", bundle / "project.rego")
        embedded = RegoEngine(policy_dir=project, reload_interval=None)
        assert embedded.error is None, embedded.error
        with opa_server(bundle) as server:
            client = OPAClient(server.url)
            try:
                for case in yaml.safe_load(text)["tests"]:
                    doc = json.dumps(build_input(case["input"]))
                    theirs = client.evaluate(doc).document
                    mine = embedded.evaluate(doc).document
                    assert theirs == mine, (name, case["name"])
                    assert decision_verdict(theirs) == case["expect"], (name, case["name"])
            finally:
                client.close()


@pytest.mark.parametrize("doc", [[], 1, "x", None, True, [{"action": "t"}]])
def test_non_object_input_is_not_an_error(tmp_path: Path, doc: Any) -> None:
    opa, interp = _engines(_project(tmp_path, "ops", OPERATORS))
    x, y = _decide(opa, interp, doc)
    assert isinstance(x, dict) and _same(x, y)
    assert x["deny"] is True
