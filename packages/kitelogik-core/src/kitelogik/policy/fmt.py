"""``kitelogik fmt``: conservative, deterministic formatting of policy sources.

Rego (hand-written): LF line endings, no trailing whitespace (raw ``` `strings` ``` are left as they
are), at most one blank line in a row, exactly one final newline. Rego written by ``kitelogik
compile`` is regenerated from its YAML source. YAML policies: LF line endings and one final newline
(content is never re-emitted, so comments and layout survive).
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["format_path", "format_rego", "format_yaml"]

_TRAILING = re.compile(r"[ \t]+$")


def format_rego(src: str) -> str:
    lines = src.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    in_raw = False
    blank = 0
    for line in lines:
        ticks = _raw_ticks(line) if not in_raw else line.count("`")
        ends_in_raw = in_raw != (ticks % 2 == 1)
        if not ends_in_raw:
            # Whitespace at the end of a line that ends outside a raw string is not content.
            line = _TRAILING.sub("", line)
            if line == "" and not in_raw:
                blank += 1
                if blank > 1:
                    continue
            else:
                blank = 0
        else:
            blank = 0
        out.append(line)
        in_raw = ends_in_raw
    text = "\n".join(out).strip("\n")
    return text + "\n" if text else ""


def _raw_ticks(line: str) -> int:
    """Backticks on a line outside comments and double-quoted strings."""
    n = 0
    in_str = False
    i = 0
    while i < len(line):
        ch = line[i]
        if in_str:
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "#":
            break
        elif ch == "`":
            n += 1
        i += 1
    return n


def format_yaml(src: str) -> str:
    text = src.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    return text + "\n" if text else ""


def format_path(path: Path) -> tuple[str, str] | None:
    """(old, new) text of a file, or None when it is not a policy source."""
    from kitelogik.policy.compiler import compile_file, is_policy_file
    from kitelogik.policy.project import is_generated

    old = path.read_text(encoding="utf-8")
    if is_policy_file(path):
        return old, format_yaml(old)
    if path.suffix == ".rego":
        if is_generated(path):
            for suffix in (".yaml", ".yml"):
                src = path.with_suffix(suffix)
                if src.exists() and is_policy_file(src):
                    return old, compile_file(src, src.name).rego
            return old, old
        return old, format_rego(old)
    return None
