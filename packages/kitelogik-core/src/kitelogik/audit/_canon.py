"""Redaction and a fast path to RFC 8785 canonical JSON for audit records.

:func:`kitelogik.jcs.canonical_json` is the reference encoder, written in Python and slow
(~50 us for a decision record). JSON produced by the C encoder with ``sort_keys`` and no
whitespace is byte-identical to JCS whenever (a) every key sorts the same by code point as by
UTF-16 code unit (true unless a key holds a character above U+D7FF), and (b) every float prints
the same in Python's ``repr`` as in ECMAScript (true for integral floats once turned into ints, and
for floats whose ``repr`` has no exponent). :func:`prepare` makes a redacted plain copy of the
data and reports whether both hold; :func:`canonical` then picks the C encoder or the reference
one. A property test checks the two agree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kitelogik.jcs import canonical_json

__all__ = ["REDACTED", "Redactor", "canonical", "prepare"]

REDACTED = "[REDACTED]"


def _make_fast_encoder() -> Callable[[Any], str]:
    """The C encoder, built once (``JSONEncoder.encode`` builds a new one on every call)."""
    import json.encoder as je

    make = getattr(je, "c_make_encoder", None)
    basestring = getattr(je, "c_encode_basestring", None)
    if make is None or basestring is None:  # pragma: no cover - other Python implementations
        return json.JSONEncoder(
            sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode
    encoder = make(None, None, basestring, None, ":", ",", True, False, False)

    def encode(value: Any) -> str:
        return "".join(encoder(value, 0))

    return encode


_fast_encode = _make_fast_encoder()

#: Normalized key names (lowercase, without ``_``, ``-``, ``.`` and spaces) that are always secret.
DEFAULT_SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "apikey",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "authorization",
        "auth",
        "privatekey",
        "clientsecret",
        "cookie",
        "setcookie",
        "sessiontoken",
        "credential",
        "credentials",
        "ssn",
        "creditcard",
        "cardnumber",
        "cvv",
        "pin",
        "otp",
        "secretkey",
        "accesskey",
        "signature",
        "bearer",
    }
)
#: A normalized key ending in one of these is secret too (``db_password``, ``github_token``).
DEFAULT_SECRET_SUFFIXES = (
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "secretkey",
    "accesskey",
    "credential",
    "credentials",
    "cookie",
)


def _norm(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "").replace(".", "").replace(" ", "")


class Redactor:
    """Replaces the values of secret fields, at any depth, with ``"[REDACTED]"`` before a record
    is hashed and stored (the chain covers the redacted form; the secret never touches disk).

    A key is secret when its normalized form (lowercase, ``_-.`` and spaces removed) is in
    ``keys`` or ends with one of ``suffixes``. ``extra_keys`` adds names to the defaults;
    ``keys``/``suffixes`` replace them. ``Redactor(keys=(), suffixes=())`` redacts nothing.
    """

    __slots__ = ("_cache", "keys", "suffixes")

    def __init__(
        self,
        keys: Iterable[str] | None = None,
        suffixes: Iterable[str] | None = None,
        extra_keys: Iterable[str] = (),
    ) -> None:
        base = DEFAULT_SECRET_KEYS if keys is None else frozenset(_norm(k) for k in keys)
        self.keys = base | {_norm(k) for k in extra_keys}
        self.suffixes = tuple(
            DEFAULT_SECRET_SUFFIXES if suffixes is None else (_norm(s) for s in suffixes)
        )
        self._cache: dict[str, bool] = {}

    def is_secret(self, key: str) -> bool:
        hit = self._cache.get(key)
        if hit is None:
            n = _norm(key)
            hit = n in self.keys or (bool(self.suffixes) and n.endswith(self.suffixes))
            if len(self._cache) < 4096:
                self._cache[key] = hit
        return hit


_NO_REDACTION = Redactor(keys=(), suffixes=())


def prepare(
    value: Any, redactor: Redactor | None = None, trusted_keys: bool = False
) -> tuple[Any, bool]:
    """A plain JSON copy of ``value`` (dicts, lists, str, int, float, bool, None) with secret
    fields redacted, and whether the fast encoder gives exactly its JCS form.
    ``trusted_keys``: ``value`` is a dict whose own keys are ASCII, not secret (Kite Logik's
    record fields); only its values are walked."""
    state = [True]
    red = redactor or _NO_REDACTION
    if trusted_keys:
        out = {k: v if type(v) in _SCALARS else _walk(v, red, state, 1) for k, v in value.items()}
    else:
        out = _walk(value, red, state, 0)
    return out, state[0]


_SCALARS = frozenset({str, int, bool, type(None)})


def _walk(value: Any, red: Redactor, state: list[bool], depth: int) -> Any:
    t = type(value)
    if t in _SCALARS:
        return value
    if depth > 200:
        raise ValueError("audit record nests too deeply")
    if isinstance(value, dict) or (
        not isinstance(value, list | tuple | float | int | str) and isinstance(value, Mapping)
    ):
        out = {}
        cache = red._cache
        for k, v in value.items():
            if type(k) is not str:
                raise TypeError(f"audit record keys must be strings, not {type(k).__name__}")
            if not k.isascii() and max(k) > "\ud7ff":
                state[0] = False
            secret = cache.get(k)
            if secret is None:
                secret = red.is_secret(k)
            if secret:
                out[k] = REDACTED
            elif type(v) in _SCALARS:
                out[k] = v
            else:
                out[k] = _walk(v, red, state, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [v if type(v) in _SCALARS else _walk(v, red, state, depth + 1) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("audit records cannot hold NaN or infinity")
        if value.is_integer() and abs(value) < 1e21:
            return int(value)  # same canonical text ("50" for 50.0)
        if "e" in repr(value):
            state[0] = False
        return float(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


def canonical(prepared: Any, fast: bool) -> str:
    """RFC 8785 canonical JSON of data returned by :func:`prepare`."""
    return _fast_encode(prepared) if fast else canonical_json(prepared)
