"""The unsupported-builtin check: a policy using a builtin the embedded engine lacks is refused at
load time, naming the builtin, the file and the line, instead of deciding differently from OPA."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import regorus
from kitelogik import PolicyGate, SessionContext, ToolCall
from kitelogik.bundle import load_policy_set
from kitelogik.engines.rego import RegoEngine
from kitelogik.lint import (
    UNSUPPORTED_BUILTINS,
    check_builtins,
    find_unsupported_builtins,
    is_unsupported,
)
from kitelogik.testing.opa import opa_binary

POLICIES = Path(__file__).resolve().parents[3] / "policies"


def found(src: str) -> list[tuple[int, str]]:
    return [(f.line, f.builtin) for f in find_unsupported_builtins("p.rego", src)]


def test_each_family_is_found_with_its_line() -> None:
    src = """package p
import rego.v1

a := crypto.sha256("x")
b := io.jwt.decode(input.token)
c if {
\tnet.cidr_merge(["10.0.0.0/8"])
\trego.metadata.rule()
}
d := graphql.parse_query("{}")
e := providers.aws.sign_req({}, {}, 0)
f := strings.render_template("{{.x}}", {})
g := http.send({"method": "get", "url": "https://x"})
h := crypto.x509.parse_certificates(input.pem)
i := regex.globs_match("a*", "b*")
j := net.cidr_intersects("10.0.0.0/8", "10.1.0.0/16")
k := re_match("a", "a")
"""
    assert found(src) == [
        (4, "crypto.sha256"),
        (5, "io.jwt.decode"),
        (7, "net.cidr_merge"),
        (8, "rego.metadata.rule"),
        (10, "graphql.parse_query"),
        (11, "providers.aws.sign_req"),
        (12, "strings.render_template"),
        (13, "http.send"),
        (14, "crypto.x509.parse_certificates"),
        (15, "regex.globs_match"),
        (16, "net.cidr_intersects"),
        (17, "re_match"),
    ]


def test_spacing_and_nesting_do_not_hide_a_call() -> None:
    src = (
        'package p\nx := count([y | y := crypto.md5 ("a")])\n'
        'z := {"k": io.jwt.verify_hs256(\n\t"t", "s")}\n'
    )
    assert found(src) == [(2, "crypto.md5"), (3, "io.jwt.verify_hs256")]


def test_template_strings_are_found() -> None:
    src = 'package p\nmsg := $"hello {input.name}"\nraw := $`x {input.y}`\nok := "costs $5"\n'
    assert found(src) == [(2, 'template string $"..."'), (3, 'template string $"..."')]


def test_what_is_not_a_builtin_call() -> None:
    src = """package p
import rego.v1
import data.mylib.crypto
import data.other as jwt

# crypto.sha256("in a comment")
s := "crypto.sha256(\\"in a string\\")"  # io.jwt.decode("comment")
r := `multi-line raw string
crypto.md5("x")
$"not a template"
`
t := "a # not a comment crypto.sha1("
u := crypto.hash(input.x)
v := jwt.decode(input.t)
w := data.vendor.crypto.sha256(input.x)
y := net.cidr_contains("10.0.0.0/8", "10.1.2.3")
any(xs) if { some x in xs; x }
z := any([true])
cryptography(x) := x
q := cryptography(1)
"""
    assert found(src) == []


def test_line_numbers_after_a_multiline_raw_string() -> None:
    src = "package p\nr := `a\nb\nc`\nx := crypto.sha1(`\n`)\n"
    assert found(src) == [(5, "crypto.sha1")]


def test_is_unsupported() -> None:
    assert is_unsupported("crypto.hmac.sha256")
    assert is_unsupported("net.cidr_merge")
    assert not is_unsupported("net.cidr_contains")
    assert not is_unsupported("cryptox.sha256")
    assert not is_unsupported("lower")


def test_the_shipped_policies_are_clean() -> None:
    policy = load_policy_set([POLICIES])
    check_builtins(policy)
    for name, src in (*policy.modules, *policy.test_modules):
        assert find_unsupported_builtins(name, src) == [], name


def write_project(tmp_path: Path, body: str) -> Path:
    d = tmp_path / "proj"
    d.mkdir()
    (d / "tokens.rego").write_text(
        "package kitelogik.project\n\nimport rego.v1\n\n" + body, encoding="utf-8"
    )
    return d


def test_the_engine_refuses_it_at_load_and_the_gate_denies(tmp_path: Path) -> None:
    # Attack: a project allow that OPA would compute one way and regorus could not compute at
    # all (io.jwt is missing): it must be refused loudly, never evaluated.
    d = write_project(
        tmp_path,
        'allow contains {"rule": "project.jwt", "reason": "signed"} if {\n'
        "\t[_, payload, _] := io.jwt.decode(input.args.token)\n"
        "\tpayload.admin == true\n}\n",
    )
    engine = RegoEngine(d, reload_interval=None)
    assert engine.error is not None
    assert "io.jwt.decode" in engine.error
    assert "tokens.rego:6" in engine.error
    gate = PolicyGate(engine=engine, audit=None)
    ctx = SessionContext(session_id="s1", user_role="support", session_scopes=[])
    d1 = gate.check(ToolCall(action="web_search", args={"token": "x"}, context=ctx))
    assert d1.verdict == "deny"
    assert "io.jwt.decode" in d1.reasons[0]


def test_a_hot_reload_that_adds_one_keeps_the_last_good_policy(tmp_path: Path) -> None:
    d = write_project(
        tmp_path, 'deny contains {"rule": "p.x", "reason": "x"} if input.action == "x"\n'
    )
    engine = RegoEngine(d, reload_interval=None)
    assert engine.error is None
    version = engine.policy_version
    (d / "tokens.rego").write_text(
        "package kitelogik.project\n\nimport rego.v1\n\nh := crypto.sha256(input.action)\n"
    )
    engine.reload()
    assert engine.error is not None
    assert "crypto.sha256" in engine.error
    assert engine.policy_version == version


def test_kitelogik_validate_reports_it(tmp_path: Path) -> None:
    d = write_project(tmp_path, "meta := rego.metadata.rule()\n")
    out = subprocess.run(
        [sys.executable, "-m", "kitelogik.cli", "validate", str(d)],
        capture_output=True,
        text=True,
        check=False,
    )
    if "No such command" in out.stderr:
        pytest.skip("kitelogik validate is not available")
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "rego.metadata.rule" in text
    assert "tokens.rego" in text


def test_the_list_matches_the_engines() -> None:
    """Measured again: every builtin OPA knows, called in regorus; the ones regorus cannot find
    are exactly the ones the check refuses (http.send: present, but a stub)."""
    binary = opa_binary()
    if binary is None:
        pytest.skip("OPA binary not installed")
    caps = json.loads(
        subprocess.run(
            [str(binary), "capabilities", "--current"], capture_output=True, check=True
        ).stdout
    )
    missing, present = set(), set()
    for b in caps["builtins"]:
        name = b["name"]
        if b.get("infix") or not name[0].isalpha() or name.startswith("internal."):
            continue
        args = ", ".join(["null"] * len(b.get("decl", {}).get("args", [])))
        engine = regorus.Engine()
        try:
            engine.add_policy(
                "p.rego", f"package p\nimport rego.v1\nx := y if {{ y := {name}({args}) }}\n"
            )
            engine.eval_rule("data.p.x")
            present.add(name)
        except BaseException as exc:
            (missing if "could not find function" in str(exc) else present).add(name)
    assert missing, "probe found nothing missing: the probe is broken"
    assert {n for n in missing if not is_unsupported(n)} == set()
    assert {n for n in present if is_unsupported(n)} == {"http.send"}
    families = [b for b in UNSUPPORTED_BUILTINS if b.endswith(".")]
    for fam in families:
        assert any(n.startswith(fam) for n in missing), f"{fam} is no longer missing"
