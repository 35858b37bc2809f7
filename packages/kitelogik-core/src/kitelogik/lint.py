"""Static checks on policy sources that the engines do not make themselves.

The embedded engine lacks some OPA builtins (regorus removed crypto and JWT support, and has no
``net.cidr_merge``, ``rego.metadata.*`` or template strings). A policy using one of them would
evaluate differently in the two engines, so it is refused at load time with the file and line,
instead of deciding silently differently from OPA.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kitelogik.bundle import PolicyLoadError, PolicySet

__all__ = ["UNSUPPORTED_BUILTINS", "Finding", "check_builtins", "find_unsupported_builtins"]

#: Builtins (or builtin families, ending in ".") the embedded engine does not implement.
UNSUPPORTED_BUILTINS: tuple[str, ...] = (
    "crypto.",
    "io.jwt.",
    "net.cidr_merge",
    "net.cidr_intersects",
    "net.cidr_overlap",
    "net.cidr_contains_matches",
    "net.lookup_ip_addr",
    "rego.metadata.",
    "rego.parse_module",
    "graphql.",
    "providers.aws.",
    "strings.render_template",
    "http.send",
)

_CALL = re.compile(r"(?<![\w.])([a-z_][\w]*(?:\.[a-z_][\w]*)+)\s*\(")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`')


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


def find_unsupported_builtins(name: str, source: str) -> list[Finding]:
    findings: list[Finding] = []
    for lineno, raw in enumerate(source.splitlines(), 1):
        code = raw.split("#", 1)[0] if '"' not in raw else _STRING.sub('""', raw).split("#", 1)[0]
        if '$"' in raw.split("#", 1)[0]:
            findings.append(Finding(name, lineno, "template string $\"...\""))
        for match in _CALL.finditer(code):
            fn = match.group(1)
            if any(fn == b or (b.endswith(".") and fn.startswith(b)) for b in UNSUPPORTED_BUILTINS):
                findings.append(Finding(name, lineno, fn))
    return findings


def check_builtins(policy: PolicySet) -> None:
    """Raise :class:`PolicyLoadError` listing every unsupported builtin call."""
    findings = [f for name, src in policy.modules for f in find_unsupported_builtins(name, src)]
    if findings:
        raise PolicyLoadError("; ".join(str(f) for f in findings))
