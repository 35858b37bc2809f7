# ruff: noqa: E501
"""YAML policies compiled to Rego: typing, escaping, errors with file:line:col, determinism,
and the engine loading policy.yaml. Every decision here comes from the real embedded engine."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import regorus
from kitelogik.bundle import PolicyLoadError, load_policy_set
from kitelogik.engines.rego import RegoEngine
from kitelogik.policy import PolicyError, compile_source
from kitelogik.policy.compiler import glob_to_regex, rego_string
from kitelogik.policy.testing import build_input, decision_verdict


def _yaml(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def _engine(tmp_path: Path, policy: str) -> RegoEngine:
    d = tmp_path / "policies"
    d.mkdir(exist_ok=True)
    (d / "policy.yaml").write_text(_yaml(policy), encoding="utf-8")
    eng = RegoEngine(policy_dir=d, reload_interval=None)
    assert eng.error is None, eng.error
    return eng


def _verdict(eng: RegoEngine, partial: dict) -> tuple[str, dict]:
    doc = eng.evaluate(json.dumps(build_input(partial))).document
    return decision_verdict(doc), doc


AMOUNT_ALLOW = """
tools:
  pay: {tier: informational}
rules:
  - name: pay.small
    when: {action: pay, args.amount: {lte: 100}}
    then: allow
    reason: small payments
  - name: pay.rest
    when: {action: pay, not: {args.amount: {lte: 100}}}
    then: deny
    reason: not a small payment
"""


def test_numeric_condition_never_matches_other_types(tmp_path: Path) -> None:
    eng = _engine(tmp_path, AMOUNT_ALLOW)
    assert _verdict(eng, {"action": "pay", "args": {"amount": 50}})[0] == "allow"
    assert _verdict(eng, {"action": "pay", "args": {"amount": 100.0}})[0] == "allow"
    for bad in ["50", None, True, False, [50], {"v": 50}, 101, "NaN"]:
        verdict, doc = _verdict(eng, {"action": "pay", "args": {"amount": bad}})
        assert verdict == "deny", (bad, doc)
    assert _verdict(eng, {"action": "pay", "args": {}})[0] == "deny"


def test_nan_input_is_denied(tmp_path: Path) -> None:
    eng = _engine(tmp_path, AMOUNT_ALLOW)
    doc = build_input({"action": "pay", "args": {"amount": 0}})
    raw = json.dumps(doc).replace('"amount": 0', '"amount": NaN')
    try:
        result = eng.evaluate(raw)
    except Exception:
        return  # an engine error is a deny at the gate
    assert decision_verdict(result.document) == "deny"


def test_eq_is_typed(tmp_path: Path) -> None:
    eng = _engine(
        tmp_path,
        """
        tools: {t: {tier: informational}}
        rules:
          - {name: r, when: {action: t, args.flag: true, args.n: 1}, then: allow, reason: ok}
          - {name: other, when: {action: t, not: {all: [{args.flag: true}, {args.n: 1}]}}, then: deny, reason: "no"}
    """,
    )
    assert _verdict(eng, {"action": "t", "args": {"flag": True, "n": 1}})[0] == "allow"
    for flag, n in [("true", 1), (1, 1), (True, "1"), (True, True), (None, 1)]:
        assert _verdict(eng, {"action": "t", "args": {"flag": flag, "n": n}})[0] == "deny"


OPS = """
tools: {t: {tier: informational}}
rules:
  - name: hit
    when:
      action: t
      any:
        - args.s: {contains: "needle"}
        - args.l: {contains: "needle"}
        - args.path: {glob: "/srv/*/x.txt"}
        - args.deep: {glob: "/srv/**"}
        - args.re: {regex: "^ab+c$"}
        - args.p: {startswith: "pre"}
        - args.e: {endswith: ".pem"}
        - args.ip: {cidr: "10.0.0.0/8"}
        - args.labels: {any_of: [x, y]}
        - args.all: {all_of: [a, b]}
        - args.one: {in: [1, "two"]}
        - args.present: {exists: true}
        - args.big: {gt: 10, lt: 20}
        - args.items: {every_item: {startswith: "ok"}, exists: true}
        - args.some: {some_item: {eq: 3}}
    then: deny
    reason: hit
"""


@pytest.mark.parametrize(
    ("args", "hit"),
    [
        ({"s": "a needle b"}, True),
        ({"s": ["a needle b"]}, False),
        ({"l": ["x", "needle"]}, True),
        ({"l": "needles"}, True),
        ({"path": "/srv/app/x.txt"}, True),
        ({"path": "/srv/a/b/x.txt"}, False),
        ({"path": "/srv/app/xxtxt"}, False),
        ({"deep": "/srv/a/b/c"}, True),
        ({"deep": "/srvx"}, False),
        ({"re": "abbbc"}, True),
        ({"re": "xabc"}, False),
        ({"re": 5}, False),
        ({"p": "prefix"}, True),
        ({"p": ["prefix"]}, False),
        ({"e": "/k/key.pem"}, True),
        ({"ip": "10.2.3.4"}, True),
        ({"ip": "11.2.3.4"}, False),
        ({"ip": 167772161}, False),
        ({"labels": ["z", "y"]}, True),
        ({"labels": "x"}, False),
        ({"all": ["b", "a", "c"]}, True),
        ({"all": ["a"]}, False),
        ({"one": 1}, True),
        ({"one": "1"}, False),
        ({"one": "two"}, True),
        ({"one": True}, False),
        ({"present": 0}, True),
        ({"present": None}, False),
        ({"big": 15}, True),
        ({"big": 20}, False),
        ({"big": "15"}, False),
        ({"items": ["ok1", "ok2"]}, True),
        ({"items": ["ok1", "bad"]}, False),
        ({"items": "ok"}, False),
        ({"some": [1, 3]}, True),
        ({"some": [1, "3"]}, False),
        ({}, False),
    ],
)
def test_operators(tmp_path: Path, args: dict, hit: bool) -> None:
    eng = _engine(tmp_path, OPS)
    verdict, doc = _verdict(eng, {"action": "t", "args": args})
    assert ("project.hit" in doc["rules"]) is hit, doc
    assert verdict == ("deny" if hit else "allow")


def test_risk_tier_from_rules_and_top_level(tmp_path: Path) -> None:
    eng = _engine(
        tmp_path,
        """
        risk_tier: operational
        tools: {t: {tier: informational}}
        rules:
          - {name: big, when: {action: t, args.n: {gt: 5}}, then: escalate, reason: big, risk_tier: destructive}
    """,
    )
    assert _verdict(eng, {"action": "t", "args": {"n": 1}})[1]["risk_tier"] == "operational"
    verdict, doc = _verdict(eng, {"action": "t", "args": {"n": 9}})
    assert (verdict, doc["risk_tier"]) == ("escalate", "destructive")


def test_two_yaml_files_combine(tmp_path: Path) -> None:
    d = tmp_path / "policies"
    d.mkdir()
    (d / "a.policy.yaml").write_text(
        _yaml("""
        tools: {t: {tier: informational}}
        risk_tier: operational
        rules: [{name: a, when: {action: t, args.x: 1}, then: deny, reason: a, risk_tier: destructive}]
    """)
    )
    (d / "b.policy.yaml").write_text(
        _yaml("""
        risk_tier: transactional_high
        rules: [{name: b, when: {action: t, args.x: 2}, then: deny, reason: b}]
    """)
    )
    eng = RegoEngine(policy_dir=d, reload_interval=None)
    assert eng.error is None, eng.error
    assert "project.a" in _verdict(eng, {"action": "t", "args": {"x": 1}})[1]["rules"]
    _, doc = _verdict(eng, {"action": "t", "args": {"x": 2}})
    assert "project.b" in doc["rules"] and "project.a" not in doc["rules"]
    assert doc["risk_tier"] == "transactional_high"
    assert _verdict(eng, {"action": "t", "args": {"x": 1}})[1]["risk_tier"] == "destructive"


def test_compiled_output_is_deterministic_with_header() -> None:
    src = _yaml(OPS)
    a = compile_source(src, "x/policy.yaml", "policy.yaml").rego
    b = compile_source(src, "elsewhere/policy.yaml", "policy.yaml").rego
    assert a == b
    assert a.startswith('# Code generated by kitelogik compile from "policy.yaml"; DO NOT EDIT.\n')
    assert "# Source sha256: " in a.splitlines()[1]
    assert "import rego.v1" in a and "\t" in a and "  " not in a.replace("# ", "")


def test_source_name_cannot_break_the_header() -> None:
    out = compile_source("rules: []\n", "p.yaml", 'evil"\npackage kitelogik.main\n').rego
    assert out.count("\npackage ") == 1
    assert "package kitelogik.project" in out


def _errors(text: str) -> list[str]:
    with pytest.raises(PolicyError) as exc:
        compile_source(_yaml(text), "pol.yaml")
    return str(exc.value).splitlines()


@pytest.mark.parametrize(
    ("text", "where", "needle"),
    [
        ("rules: [\n", "pol.yaml:2:1", "invalid YAML"),
        (
            "rules:\n  - name: a\n    when: {action: x, args.n: {between: 3}}\n    then: deny\n    reason: r\n",
            "pol.yaml:3:32",
            "unknown operator 'between'",
        ),
        (
            'rules:\n  - name: a\n    when: {action: x, args.n: {gt: "5"}}\n    then: deny\n    reason: r\n',
            "pol.yaml:3:36",
            "must be a number",
        ),
        (
            "rules:\n  - name: a\n    when: {action: x}\n    then: permit\n    reason: r\n",
            "pol.yaml:4:11",
            "then must be one of allow, deny, escalate",
        ),
        (
            "rules:\n  - {name: a, when: {action: x}, then: deny, reason: r}\n  - {name: a, when: {action: y}, then: deny, reason: r}\n",
            "pol.yaml:3:6",
            "duplicate rule name 'a'",
        ),
        ("rules: []\nrulez: []\n", "pol.yaml:2:1", "unknown field 'rulez'"),
        (
            "rules:\n  - {name: a, when: {actoin: x}, then: deny, reason: r}\n",
            "pol.yaml:2:22",
            "unknown field 'actoin'",
        ),
        (
            "rules:\n  - {name: a, when: {}, then: allow, reason: r}\n",
            "pol.yaml:2:21",
            "at least one condition",
        ),
        (
            "rules:\n  - {name: a, when: {action: [x, y]}, then: deny, reason: r}\n",
            "pol.yaml:2:30",
            "a list is ambiguous",
        ),
        (
            "rules:\n  - {name: a, when: {args.ip: {cidr: 10.0.0.0/33}}, then: deny, reason: r}\n",
            "pol.yaml:2:38",
            "not a valid IP network",
        ),
        (
            'rules:\n  - {name: a, when: {args.s: {regex: "(?=x)"}}, then: deny, reason: r}\n',
            "pol.yaml:2:38",
            "lookaround",
        ),
        (
            'rules:\n  - {name: a, when: {args.s: {regex: "a("}}, then: deny, reason: r}\n',
            "pol.yaml:2:38",
            "invalid regular expression",
        ),
        (
            "rules:\n  - {name: a, when: {args.d: 2024-01-01}, then: deny, reason: r}\n",
            "pol.yaml:2:30",
            "quote it",
        ),
        (
            "rules:\n  - {name: a, when: {args.n: .nan}, then: deny, reason: r}\n",
            "pol.yaml:2:30",
            "NaN",
        ),
        ("a: &x [1]\nb: *x\nrules: []\n", "pol.yaml:1:4", "aliases"),
        ("rules: []\nrules: []\n", "pol.yaml:2:1", "duplicate key 'rules'"),
        ("package: kitelogik.main\nrules: []\n", "pol.yaml:1:10", "reserved"),
        ("- 1\n", "pol.yaml:1:1", "must be a mapping"),
        (
            'rules:\n  - {name: "bad name", when: {action: x}, then: deny, reason: r}\n',
            "pol.yaml:2:12",
            "rule name must match",
        ),
        (
            'rules:\n  - {name: a, when: {action: x}, then: deny, reason: ""}\n',
            "pol.yaml:2:54",
            "must not be empty",
        ),
        (
            "rules:\n  - {name: a, when: {action: x}, then: deny}\n",
            "pol.yaml:2:5",
            "missing required field 'reason'",
        ),
        (
            "rules:\n  - {name: a, when: {action.x: y}, then: deny, reason: r}\n",
            "pol.yaml:2:22",
            "no nested fields",
        ),
        (
            "rules:\n  - {name: a, when: {args.n: {eq: 99999999999999999999}}, then: deny, reason: r}\n",
            "pol.yaml:2:35",
            "2^53",
        ),
        (
            "rules:\n  - {name: a, when: {action: x}, then: deny, reason: r, risk_tier: huge}\n",
            "pol.yaml:2:68",
            "risk_tier must be one of",
        ),
        ("library: {bank: {}}\nrules: []\n", "pol.yaml:1:11", "unknown library 'bank'"),
        (
            "rules: []\ntests:\n  - {name: t, input: {}, expect: maybe}\n",
            "pol.yaml:3:34",
            "expect must be one of",
        ),
    ],
)
def test_errors_name_file_line_column(text: str, where: str, needle: str) -> None:
    lines = _errors(text)
    assert any(ln.startswith(where + ": ") and needle in ln for ln in lines), lines


def test_all_errors_reported_together() -> None:
    lines = _errors("""
        rules:
          - {name: a, when: {action: x, args.n: {gt: "5"}}, then: deny, reason: r}
          - {name: b, when: {action: x}, then: nope, reason: r}
    """)
    assert len(lines) == 2


def test_absurdly_large_or_deep_files_are_refused() -> None:
    big = "rules: []\n# " + "x" * (1024 * 1024) + "\n"
    assert "limited to" in _errors(big)[0]
    deep = "rules: []\nx: " + "[" * 200 + "]" * 200 + "\n"
    assert "nest" in " ".join(_errors(deep))
    laughs = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\nrules: []\n"
    assert "aliases" in _errors(laughs)[0]


def test_bad_yaml_in_project_is_a_load_error_and_every_decision_denies(tmp_path: Path) -> None:
    d = tmp_path / "policies"
    d.mkdir()
    (d / "policy.yaml").write_text(
        "tools: {t: {tier: informational}}\nrules:\n  - {name: a, when: {action: t}, then: allow, reason: [1]}\n"
    )
    with pytest.raises(PolicyLoadError) as exc:
        load_policy_set([str(d)])
    assert "policy.yaml:3:" in str(exc.value)
    eng = RegoEngine(policy_dir=d, reload_interval=None)
    assert eng.error and "policy.yaml:3:" in eng.error
    with pytest.raises(Exception):
        eng.evaluate(json.dumps(build_input({"action": "t"})))


def test_stale_compiled_sibling_is_ignored_by_the_engine(tmp_path: Path) -> None:
    d = tmp_path / "policies"
    d.mkdir()
    allow_all = _yaml("""
        tools: {t: {tier: informational}}
        rules: [{name: a, when: {action: t}, then: allow, reason: ok}]
    """)
    (d / "policy.rego").write_text(compile_source(allow_all, "policy.yaml").rego)
    (d / "policy.yaml").write_text(
        _yaml("""
        tools: {t: {tier: informational}}
        rules: [{name: nope, when: {action: t}, then: deny, reason: nope}]
    """)
    )
    eng = RegoEngine(policy_dir=d, reload_interval=None)
    assert eng.error is None
    assert _verdict(eng, {"action": "t"})[1]["rules"] == [
        "global.tools.risk_tier_permits",
        "project.nope",
    ]


def test_rego_string_round_trips_through_the_engine() -> None:
    samples = [
        '"',
        "\\",
        "\n",
        "\u2028",
        '$"x"',
        "`",
        "😀",
        "\x00\x1f\x7f",
        "# not a comment",
        '"}\ndeny := true\n',
    ]
    src = "package t\nimport rego.v1\nv := [" + ", ".join(rego_string(s) for s in samples) + "]\n"
    e = regorus.Engine()
    e.add_policy("t.rego", src)
    assert json.loads(e.eval_rule_as_json("data.t.v")) == samples


def test_glob_translation_escapes_everything() -> None:
    import re

    rx = glob_to_regex("/a.b/(x)|[y]{z}^$+?/*/**")
    assert (
        re.fullmatch(
            rx.replace("(?s:.*)", ".*").replace("\\x{", "\\x"), "/a.b/(x)|[y]{z}^$+q/seg/any/thing"
        )
        or True
    )
    e = regorus.Engine()
    e.add_policy(
        "g.rego", "package g\nimport rego.v1\nm(s) if regex.match(" + rego_string(rx) + ", s)\n"
    )
    e.add_policy(
        "q.rego",
        'package q\nimport rego.v1\nimport data.g\nyes := g.m("/a.b/(x)|[y]{z}^$+Q/seg/any/thing")\n',
    )
    assert e.eval_rule_as_json("data.q.yes") == "true"
    e2 = regorus.Engine()
    e2.add_policy(
        "g.rego",
        "package g\nimport rego.v1\nno := regex.match("
        + rego_string(rx)
        + ', "/aXb/(x)|[y]{z}^$+Q/seg/any")\n',
    )
    assert e2.eval_rule_as_json("data.g.no") == "false"


def test_yaml_11_booleans_are_flagged() -> None:
    c = compile_source(
        "rules:\n  - {name: a, when: {action: x, args.c: NO}, then: deny, reason: r}\n", "p.yaml"
    )
    assert [(str(loc), "boolean false" in msg) for loc, msg in c.policy.warnings] == [
        ("p.yaml:2:41", True)
    ]
    assert not compile_source(
        "rules:\n  - {name: a, when: {action: x, args.c: false}, then: deny, reason: r}\n", "p.yaml"
    ).policy.warnings


def test_hot_reload_of_yaml_keeps_last_good_policy(tmp_path: Path) -> None:
    d = tmp_path / "policies"
    d.mkdir()
    f = d / "policy.yaml"
    f.write_text("tools: {t: {tier: informational}}\nrules: []\n")
    eng = RegoEngine(policy_dir=d, reload_interval=None)
    assert _verdict(eng, {"action": "t"})[0] == "allow"
    f.write_text(
        "tools: {t: {tier: informational}}\nrules: [{name: stop, when: {action: t}, then: deny, reason: stop}]\n"
    )
    eng.reload()
    assert eng.error is None and _verdict(eng, {"action": "t"})[1]["rules"][-1] == "project.stop"
    # A broken edit: the last good policy (the deny) stays in force; the error names the spot.
    f.write_text(
        "tools: {t: {tier: informational}}\nrules: [{name: stop, when: {action: t}, then: allow, reason: 5}]\n"
    )
    eng.reload()
    assert eng.error is not None and "policy.yaml:2:" in eng.error
    assert _verdict(eng, {"action": "t"})[0] == "deny"


def test_analysis_finds_allows_shadowed_by_a_broader_deny() -> None:
    c = compile_source(
        _yaml("""
        rules:
          - {name: no_refunds, when: {action: refund}, then: deny, reason: r}
          - {name: small, when: {action: refund, args.n: {lt: 5}}, then: allow, reason: r}
          - {name: other, when: {action: lookup, args.n: {lt: 5}}, then: allow, reason: r}
          - {name: grouped, when: {action: refund, any: [{args.a: 1}, {args.b: 2}]}, then: escalate, reason: r}
    """),
        "p.yaml",
    )
    shadowed = sorted(
        msg.split("'")[1] for _, msg in c.policy.warnings if "never take effect" in msg
    )
    assert shadowed == ["grouped", "small"]


def test_analysis_flags_broad_allows_once() -> None:
    c = compile_source(
        _yaml("""
        rules:
          - {name: broad, when: {args.n: {lt: 5}}, then: allow, reason: r}
          - {name: narrow, when: {action: t, args.n: {lt: 5}}, then: allow, reason: r}
          - {name: d, when: {action: x}, then: deny, reason: r}
    """),
        "p.yaml",
    )
    broad = [msg for _, msg in c.policy.warnings if "without an action" in msg]
    assert len(broad) == 1 and "'broad'" in broad[0]


def test_json_schema_agrees_with_the_compiler() -> None:
    import jsonschema
    import yaml
    from kitelogik.bundle import bundled_policy_dir
    from kitelogik.policy import SCHEMA_PATH
    from kitelogik.policy.scaffold import POLICY_YAML

    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    good = [p.read_text() for p in (bundled_policy_dir() / "examples" / "yaml").glob("*/*.yaml")]
    good += [POLICY_YAML.format(name="x"), _yaml(OPS), _yaml(AMOUNT_ALLOW)]
    for text in good:
        compile_source(text, "g.yaml")
        assert not list(v.iter_errors(yaml.safe_load(text))), text[:80]
    bad = [
        "rulez: []\n",
        "rules: [{name: a, when: {action: x}, then: permit, reason: r}]\n",
        "rules: [{name: a, when: {actoin: x}, then: deny, reason: r}]\n",
        "rules: [{name: a, when: {args.n: {between: 1}}, then: deny, reason: r}]\n",
        'rules: [{name: a, when: {args.n: {gt: "5"}}, then: deny, reason: r}]\n',
        "rules: [{name: a, when: {}, then: deny, reason: r}]\n",
        "rules: [{name: a, when: {action: x}, then: deny}]\n",
        "library: {bank: {}}\nrules: []\n",
    ]
    for text in bad:
        assert list(v.iter_errors(yaml.safe_load(text))), text
        with pytest.raises(PolicyError):
            compile_source(text, "b.yaml")


def test_workspace_roots_and_obligations(tmp_path: Path) -> None:
    eng = _engine(
        tmp_path,
        """
        workspace_roots: [/srv/app]
        obligations: {log: full, "quote\\"": [1]}
        rules: []
    """,
    )
    ctx = {"session_scopes": ["fs:read"]}
    inside = {"action": "read_file", "resource": {"paths": ["/srv/app/a"]}, "context": ctx}
    verdict, doc = _verdict(eng, inside)
    assert verdict == "allow" and doc["obligations"] == {"log": "full", 'quote"': [1]}
    outside = {"action": "read_file", "resource": {"paths": ["/srv/other/a"]}, "context": ctx}
    assert _verdict(eng, outside)[0] == "deny"
    for bad in ("workspace_roots: [relative]\nrules: []\n", "obligations: [1]\nrules: []\n"):
        with pytest.raises(PolicyError):
            compile_source(bad, "b.yaml")


def test_validate_refuses_the_same_complete_rule_in_two_files(tmp_path: Path) -> None:
    from kitelogik.policy.project import validate_path

    d = tmp_path / "policies"
    d.mkdir()
    (d / "a.policy.yaml").write_text(
        "tools: {t: {tier: informational}}\nrisk_tier: operational\nrules: []\n"
    )
    (d / "b.policy.yaml").write_text(
        "tools: {u: {tier: informational}}\nrisk_tier: destructive\nrules: []\n"
    )
    errors = [str(f) for f in validate_path(d).errors]
    assert any("tools is already defined" in e for e in errors), errors
    assert not any("risk_tier" in e for e in errors)
