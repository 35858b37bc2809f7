"""Canonical JSON (RFC 8785, JCS) for hashes that must be stable across processes and machines:
approval bindings and the audit hash chain."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

__all__ = ["canonical_json", "sha256_hex"]


def _number(value: float) -> str:
    # RFC 8785 formats numbers as ECMAScript's Number.prototype.toString does.
    if not math.isfinite(value):
        raise ValueError("canonical JSON has no representation for NaN or infinity")
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exp = text.split("e")
        exp_i = int(exp)
        if -7 < exp_i < 21:
            return format(value, "f").rstrip("0").rstrip(".")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return f"{mantissa}e{'+' if exp_i > 0 else '-'}{abs(exp_i)}"
    return text


def _encode(value: Any, out: list[str]) -> None:
    if value is None or value is True or value is False or isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_number(value))
    elif isinstance(value, dict):
        # JCS sorts keys by their UTF-16 code units.
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        out.append("{")
        for i, (k, v) in enumerate(items):
            if i:
                out.append(",")
            if not isinstance(k, str):
                raise TypeError(f"canonical JSON keys must be strings, not {type(k).__name__}")
            out.append(json.dumps(k, ensure_ascii=False))
            out.append(":")
            _encode(v, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, v in enumerate(value):
            if i:
                out.append(",")
            _encode(v, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON data")


def canonical_json(value: Any) -> str:
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


def sha256_hex(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
