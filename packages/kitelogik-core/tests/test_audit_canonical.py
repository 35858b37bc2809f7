"""The audit log's fast canonical JSON is byte-identical to the RFC 8785 reference encoder."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from kitelogik.audit import REDACTED, Redactor
from kitelogik.audit._canon import canonical, prepare
from kitelogik.jcs import canonical_json

keys = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["a", "é", "\ufb33", "\U0001f600", "\ue000", "A", "_", "\x7f", "\u2028"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_data = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=600, deadline=None)
@given(json_data)
def test_fast_path_equals_reference(value: Any) -> None:
    clean, fast = prepare({"data": value})
    assert canonical(clean, fast) == canonical_json(clean)
    assert json.loads(canonical(clean, fast)) == json.loads(canonical_json({"data": value}))


def test_exponent_floats_and_astral_keys_take_the_reference_path() -> None:
    for value in ({"x": 1e-7}, {"x": 1e21}, {"\U0001f600": 1, "\ufb33": 2}):
        clean, fast = prepare(value)
        assert not fast
        assert canonical(clean, fast) == canonical_json(value)
    clean, fast = prepare({"x": 50.0, "y": -0.0, "z": 0.5})
    assert fast and canonical(clean, fast) == '{"x":50,"y":0,"z":0.5}'


def test_redaction_at_any_depth_and_not_of_lookalikes() -> None:
    clean, _ = prepare(
        {
            "Api-Key": "k",
            "nested": [{"DB_PASSWORD": "p", "github_token": "t"}],
            "max_tokens": 5,
            "tokenizer": "bpe",
            "password_hint": "h",
        },
        Redactor(),
    )
    assert clean == {
        "Api-Key": REDACTED,
        "nested": [{"DB_PASSWORD": REDACTED, "github_token": REDACTED}],
        "max_tokens": 5,
        "tokenizer": "bpe",
        "password_hint": "h",
    }
    nothing, _ = prepare({"password": "p"}, Redactor(keys=(), suffixes=()))
    assert nothing == {"password": "p"}


def test_non_json_values_are_refused() -> None:
    import pytest

    for bad in ({"x": float("nan")}, {"x": object()}, {1: "int key"}):
        with pytest.raises((ValueError, TypeError)):
            prepare(bad)
