# ruff: noqa: PT017
"""Injection: any YAML string value compiles to a module whose meaning is just that literal.

Hypothesis generates arbitrary text (quotes, backslashes, newlines, Rego keywords, braces,
unicode) for reasons, rule values, field path segments and regex/glob patterns. For each, the
compiled module must (1) load in the real engine, (2) define nothing but the rule it compiles,
and (3) match exactly the input whose field equals the literal and nothing else."""

from __future__ import annotations

import json

import regorus
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kitelogik.policy import PolicyError, compile_source

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40
) | st.sampled_from(
    [
        '"} \ndeny := true\n#',
        "\\",
        '\\"',
        "`",
        '$"{x}"',
        "allow contains 1 if true",
        "\u2028x",
        "import rego.v1\npackage kitelogik.main",
        "}\n}\n",
        "\t",
        "\r\n",
        "😀",
    ]
)


def _evaluate(rego: str, inp: dict) -> dict:
    e = regorus.Engine()
    e.add_policy("p.rego", rego)
    e.set_input_json(json.dumps(inp))
    out = {}
    for k in ("deny", "allow", "requires_hitl"):
        res = json.loads(e.eval_query_as_json(f"data.kitelogik.project.{k}")).get("result")
        out[k] = res[0]["expressions"][0]["value"] if res else []
    return out


def _policy(value: str, reason: str, key: str = "v") -> str:
    doc = {
        "rules": [
            {
                "name": "r",
                "when": {"action": "t", f"args.{key}": value},
                "then": "deny",
                "reason": reason,
            }
        ]
    }
    return yaml.safe_dump(doc, allow_unicode=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_text, reason=_text, other=_text)
def test_string_values_are_literals(value: str, reason: str, other: str) -> None:
    src = _policy(value, reason)
    try:
        compiled = compile_source(src, "fuzz.yaml")
    except PolicyError as exc:
        # Only a rejection for a stated reason (e.g. a blank reason) is acceptable.
        assert "must not be empty" in str(exc) or "surrogate" in str(exc), str(exc)
        return
    rego = compiled.rego
    # What the YAML says after YAML's own parsing (e.g. it folds U+0085 in a dumped scalar).
    rule = yaml.safe_load(src)["rules"][0]
    value, reason = rule["when"]["args.v"], rule["reason"]
    assert rego.count("\npackage ") == 1 and "package kitelogik.project\n" in rego
    hit = _evaluate(rego, {"action": "t", "args": {"v": value}})
    assert hit["deny"] == [{"rule": "project.r", "reason": reason}]
    assert hit["allow"] == [] and hit["requires_hitl"] == []
    if other != value:
        miss = _evaluate(rego, {"action": "t", "args": {"v": other}})
        assert miss == {"deny": [], "allow": [], "requires_hitl": []}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=_text.filter(lambda k: "." not in k), value=_text)
def test_field_path_segments_are_literals(key: str, value: str) -> None:
    src = _policy(value, "r", key)
    try:
        compiled = compile_source(src, "fuzz.yaml")
    except PolicyError:
        return
    # The key and value as YAML itself parses them (a dumped U+0085 is folded, for instance).
    ((path, value),) = [
        (k, v) for k, v in yaml.safe_load(src)["rules"][0]["when"].items() if k != "action"
    ]
    key = path.removeprefix("args.")
    if "." in key:
        return
    hit = _evaluate(compiled.rego, {"action": "t", "args": {key: value}})
    assert [d["rule"] for d in hit["deny"]] == ["project.r"]
    assert _evaluate(compiled.rego, {"action": "t", "args": {key + "x": value}})["deny"] == []


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(literal=_text)
def test_glob_literal_text_matches_only_itself(literal: str) -> None:
    pattern = literal.replace("*", "").replace("?", "") or "x"
    pattern = yaml.safe_load(yaml.safe_dump(pattern, allow_unicode=True))
    doc = {
        "rules": [
            {
                "name": "g",
                "when": {"action": "t", "args.p": {"glob": pattern}},
                "then": "deny",
                "reason": "g",
            }
        ]
    }
    try:
        compiled = compile_source(yaml.safe_dump(doc, allow_unicode=True), "fuzz.yaml")
    except PolicyError:
        return
    assert _evaluate(compiled.rego, {"action": "t", "args": {"p": pattern}})["deny"]
    assert not _evaluate(compiled.rego, {"action": "t", "args": {"p": pattern + "\n"}})["deny"]
    assert not _evaluate(compiled.rego, {"action": "t", "args": {"p": "_" + pattern}})["deny"]
