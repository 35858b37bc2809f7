"""The canonicalizer: the attacks first (path and host tricks), then the freezing rules."""

from __future__ import annotations

import math
import os

import pytest
from kitelogik.canonical import (
    CanonicalizationError,
    FrozenDict,
    Limits,
    canonical_host,
    canonical_path,
    canonicalize,
    thaw,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/srv/data/../../etc/passwd", "/etc/passwd"),
        ("/srv/./data//..//..///etc/passwd", "/etc/passwd"),
        ("//etc/passwd", "/etc/passwd"),
        ("/srv/%2e%2e/etc/passwd", "/etc/passwd"),
        ("/srv/%252e%252e/etc/passwd", "/etc/passwd"),  # double encoding
        ("/srv/%2E%2E%2Fetc%2Fpasswd", "/etc/passwd"),
        ("/srv/\uff0e\uff0e/etc/passwd", "/etc/passwd"),  # full-width dots (NFKC)
        ("/srv\uff0f..\uff0fetc/passwd", "/etc/passwd"),  # full-width slashes
        ("file:///srv/../etc/passwd", "/etc/passwd"),
        ("FILE:///etc/shadow", "/etc/shadow"),
        ("/srv\\..\\etc\\passwd", "/etc/passwd"),  # backslashes as separators
        ("/../../../../etc/passwd", "/etc/passwd"),
    ],
)
def test_path_tricks_are_seen_as_their_target(raw: str, expected: str) -> None:
    assert canonical_path(raw) == expected


def test_relative_paths_are_made_absolute_against_the_base() -> None:
    assert canonical_path("notes/../secret.txt", base="/work") == "/work/secret.txt"
    assert canonical_path("../../etc/passwd", base="/work/a") == "/etc/passwd"


def test_home_is_expanded() -> None:
    assert canonical_path("~/.ssh/id_rsa") == os.path.expanduser("~/.ssh/id_rsa")


def test_symlinks_are_resolved_when_they_exist(tmp_path) -> None:
    target = tmp_path / "real"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    assert canonical_path(str(tmp_path / "link" / "f.txt"), resolve_symlinks=True) == str(
        target / "f.txt"
    )


@pytest.mark.parametrize("raw", ["/etc/passwd\x00.txt", "/etc/passwd%00.txt", "/a%2500b"])
def test_nul_bytes_in_paths_are_rejected(raw: str) -> None:
    with pytest.raises(CanonicalizationError, match="NUL"):
        canonical_path(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://EXAMPLE.com/x", "example.com"),
        ("https://example.com./x", "example.com"),
        ("https://user:pw@Example.COM:8443/x", "example.com"),
        ("https://evil.com@trusted.example/", "trusted.example"),
        ("http://[::1]:80/", "::1"),
        ("http://127.0.0.1:9000", "127.0.0.1"),
        ("https://\uff45xample.com/", "example.com"),  # full-width e (NFKC)
        ("https://xn--bcher-kva.example/", "bücher.example"),
        ("https://BÜCHER.example/", "bücher.example"),
        ("https://ex%61mple.com/", "example.com"),
        ("api.example.com:443", "api.example.com"),
    ],
)
def test_hosts_are_canonical(raw: str, expected: str) -> None:
    assert canonical_host(raw) == expected


def test_invalid_idna_host_is_rejected() -> None:
    with pytest.raises(CanonicalizationError):
        canonical_host("https://xn--a.example/")


def test_resources_are_derived_from_nested_arguments() -> None:
    c = canonicalize(
        {
            "requests": [
                {"url": "HTTPS://API.Example.com/v1"},
                {"target": {"file": "/srv/../etc/hosts"}},
            ],
            "note": "see /tmp/../var/log",
            "host": "Internal.Example.",
            "paths": ["a.txt", "/b//c"],
        },
        base="/work",
    )
    assert c.hosts == ("api.example.com", "internal.example")
    assert set(c.paths) == {"/etc/hosts", "/work/a.txt", "/b/c"}
    assert "/var/log" not in c.paths  # free text is not a path


def test_plain_text_is_not_taken_for_a_resource() -> None:
    c = canonicalize({"query": "refund policy", "amount": 5, "body": "hello"})
    assert c.paths == () and c.hosts == ()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"a": "x\x00y"}, "args.a: contains a NUL byte"),
        ({"a": [{"b": "\x00"}]}, r"args.a\[0\].b: contains a NUL byte"),
        ({"k\x00": 1}, "NUL"),
        ({"a": {1, 2}}, "set is not JSON-serializable"),
        ({"a": b"bytes"}, "bytes is not JSON-serializable"),
        ({"a": object()}, "object is not JSON-serializable"),
        ({"a": math.nan}, "non-finite"),
        ({"a": math.inf}, "non-finite"),
        ({"a": {1: "x"}}, "is not a string"),
        ({"path": "/etc/%00"}, "NUL"),
        ({"url": "https://exa\x00mple.com"}, "NUL"),
        ({"id": 2**53 + 1}, "outside the exact range"),
        ({"id": -(2**63)}, "outside the exact range"),
    ],
)
def test_bad_values_are_rejected_with_their_location(args, message: str) -> None:
    with pytest.raises(CanonicalizationError, match=message):
        canonicalize(args)


def test_depth_limit() -> None:
    deep: dict = {}
    node = deep
    for _ in range(40):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(CanonicalizationError, match="nested deeper than 32"):
        canonicalize(deep)
    canonicalize(deep, limits=Limits(max_depth=64))


def test_item_limit() -> None:
    with pytest.raises(CanonicalizationError, match="more than 10 values"):
        canonicalize({"a": list(range(20))}, limits=Limits(max_items=10))


def test_self_referencing_structure_is_rejected_not_a_crash() -> None:
    loop: list = []
    loop.append(loop)
    with pytest.raises(CanonicalizationError, match="nested deeper"):
        canonicalize({"a": loop})


def test_args_must_be_a_mapping() -> None:
    with pytest.raises(CanonicalizationError, match="must be a mapping"):
        canonicalize(["not", "a", "dict"])  # type: ignore[arg-type]


def test_frozen_copy_is_independent_and_immutable() -> None:
    original = {"items": [{"sku": "a", "qty": 1}], "to": "x@example.com"}
    c = canonicalize(original)
    original["items"][0]["qty"] = 1000  # the caller changes its dict after the decision
    original["to"] = "attacker@example.com"
    assert c.args["items"][0]["qty"] == 1
    assert c.args["to"] == "x@example.com"
    with pytest.raises(TypeError, match="frozen"):
        c.args["to"] = "attacker@example.com"  # type: ignore[index]
    with pytest.raises(TypeError):
        c.args["items"][0].update(qty=5)
    with pytest.raises(AttributeError):
        c.args["items"].append(1)  # type: ignore[attr-defined]  # a tuple
    assert isinstance(c.args, dict) and isinstance(c.args, FrozenDict)


def test_thaw_gives_a_mutable_copy_that_cannot_touch_the_decided_args() -> None:
    c = canonicalize({"items": [{"qty": 1}]})
    mutable = thaw(c.args)
    mutable["items"][0]["qty"] = 99
    mutable["items"].append({"qty": 2})
    assert c.args["items"] == ({"qty": 1},)
    assert mutable == {"items": [{"qty": 99}, {"qty": 2}]}


def test_str_and_int_subclasses_become_plain_values() -> None:
    import enum

    class Color(str, enum.Enum):  # noqa: UP042 - a str subclass on purpose
        RED = "red"

    class Level(enum.IntEnum):
        HIGH = 3

    c = canonicalize({"c": Color.RED, "l": Level.HIGH})
    assert type(c.args["c"]) is str and c.args["c"] == "red"
    assert type(c.args["l"]) is int and c.args["l"] == 3
