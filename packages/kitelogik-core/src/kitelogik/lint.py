"""Static checks on policy sources that the engines do not make themselves.

The embedded engine (regorus) lacks some OPA builtins: crypto and JWT support were removed
upstream, and it has no ``net.cidr_merge``, ``rego.metadata.*``, GraphQL, AWS request signing,
template rendering or template strings. A policy using one of them would fail, or decide
differently, in the two engines, so it is refused at load time with the file and line, instead of
deciding silently differently from OPA. ``kitelogik validate`` reports the same findings.

The list was measured, not guessed: every builtin of OPA's capabilities (``opa capabilities``)
was called in regorus, and those it could not find are listed here (the test suite repeats that
measurement against the installed regorus and OPA). ``http.send`` exists in regorus but is a stub
that never answers, so it is refused too.

The scan is lexical (no Rego parser is needed): comments and string literals (including
multi-line raw strings) are blanked first, names imported with ``import ... as x`` or defined as
functions in the module are not builtins, and a builtin is a dotted or plain name followed by
``(``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kitelogik.bundle import PolicyLoadError, PolicySet

__all__ = [
    "UNSUPPORTED_BUILTINS",
    "Finding",
    "check_builtins",
    "find_unsupported_builtins",
    "is_unsupported",
]

#: Builtins (or builtin families, ending in ".") the embedded engine does not implement.
UNSUPPORTED_BUILTINS: tuple[str, ...] = (
    "crypto.",
    "io.jwt.",
    "graphql.",
    "providers.aws.",
    "rego.metadata.",
    "rego.parse_module",
    "net.cidr_merge",
    "net.cidr_intersects",
    "net.cidr_overlap",
    "net.cidr_contains_matches",
    "net.lookup_ip_addr",
    "regex.globs_match",
    "strings.render_template",
    "http.send",
    # Deprecated OPA builtins (not available with `import rego.v1` either).
    "all",
    "any",
    "re_match",
    "set_diff",
    "cast_array",
    "cast_boolean",
    "cast_null",
    "cast_object",
    "cast_set",
    "cast_string",
)

_CALL = re.compile(r"(?<![\w.$])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)[ \t]*\(")
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w.\[\]\"]+)(?:[ \t]+as[ \t]+(\w+))?", re.MULTILINE)
_FUNC_DEF = re.compile(
    r"^[ \t]*([A-Za-z_]\w*)[ \t]*\([^()\n]*\)[ \t]*(?::=|=|if\b|\{)", re.MULTILINE
)
_TEMPLATE = 'template string $"..."'


@dataclass(frozen=True, slots=True)
class Finding:
    file: str
    line: int
    builtin: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: builtin {self.builtin} is not supported by the embedded "
            "engine (it would decide differently from OPA)"
        )


def is_unsupported(name: str) -> bool:
    """True when ``name`` (a builtin's full name) is one the embedded engine lacks."""
    return any(name == b or (b.endswith(".") and name.startswith(b)) for b in UNSUPPORTED_BUILTINS)


def _blank(source: str) -> tuple[str, list[int]]:
    """The source with comments and string contents replaced by spaces (newlines kept, so line
    numbers stay right), and the offsets of template strings (``$"`` / ``$```)."""
    out = list(source)
    templates: list[int] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c == "#":
            while i < n and source[i] != "\n":
                out[i] = " "
                i += 1
            continue
        if c in '"`':
            if i > 0 and source[i - 1] == "$":
                templates.append(i - 1)
            quote = c
            i += 1
            while i < n and source[i] != quote:
                if quote == '"' and source[i] == "\\":
                    out[i] = " "
                    i += 1
                    if i >= n:
                        break
                if source[i] != "\n":
                    out[i] = " "
                i += 1
            i += 1
            continue
        i += 1
    return "".join(out), templates


def find_unsupported_builtins(name: str, source: str) -> list[Finding]:
    """Every call in ``source`` (a Rego module named ``name``) to a builtin the embedded engine
    lacks, and every template string, in source order."""
    code, templates = _blank(source)
    local: set[str] = set()
    for m in _IMPORT.finditer(code):
        alias = m.group(2) or m.group(1).rsplit(".", 1)[-1]
        local.add(alias)
    local.discard("v1")  # import rego.v1
    for m in _FUNC_DEF.finditer(code):
        local.add(m.group(1))
    found: list[tuple[int, str]] = []
    for m in _CALL.finditer(code):
        fn = m.group(1)
        head = fn.split(".", 1)[0]
        if head in local or head in ("data", "input"):
            continue
        if is_unsupported(fn):
            found.append((m.start(1), fn))
    found += [(pos, _TEMPLATE) for pos in templates]
    found.sort()
    return [Finding(name, code.count("\n", 0, pos) + 1, fn) for pos, fn in found]


def check_builtins(policy: PolicySet) -> None:
    """Raise :class:`PolicyLoadError` listing every unsupported builtin call."""
    findings = [f for name, src in policy.modules for f in find_unsupported_builtins(name, src)]
    if findings:
        raise PolicyLoadError("; ".join(str(f) for f in findings))
