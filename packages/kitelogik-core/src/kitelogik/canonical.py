"""The canonicalizer: freezes arguments and derives the resources they touch.

Policies match canonical values only, so an agent cannot dodge a path or host rule with
``/srv/../etc/passwd``, ``%2e%2e``, ``//etc//passwd``, full-width Unicode or ``EXAMPLE.com.``.
Everything here is pure (except the optional symlink resolution) and raises
:class:`CanonicalizationError` on any value it will not let through; the gate turns that into a
deny naming the offending argument.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import posixpath
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

__all__ = [
    "CanonicalArgs",
    "CanonicalizationError",
    "FrozenDict",
    "Limits",
    "canonical_host",
    "canonical_path",
    "canonicalize",
    "thaw",
]


class CanonicalizationError(ValueError):
    """An argument value that may not be decided on (the gate denies with this message)."""


class FrozenDict(dict[str, Any]):
    """A ``dict`` that refuses mutation. It stays a real ``dict`` so ``json.dumps`` and
    ``isinstance(x, dict)`` keep working in user code."""

    __slots__ = ()

    def _readonly(self, *_: object, **__: object) -> NoReturn:
        raise TypeError("governed arguments are frozen: they are exactly what was decided on")

    __setitem__ = __delitem__ = _readonly  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _readonly  # type: ignore[assignment]
    __ior__ = _readonly  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(self, sort_keys=True, default=str))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what an event may carry. Anything beyond them is a deny, not a crash."""

    max_bytes: int = 1024 * 1024  # serialized size of the policy input's args
    max_depth: int = 32  # nesting of lists/dicts
    max_items: int = 100_000  # total number of values


@dataclass(frozen=True, slots=True)
class CanonicalArgs:
    args: FrozenDict
    paths: tuple[str, ...]
    hosts: tuple[str, ...]


# Argument names whose string values are paths even without a leading "/".
_PATH_KEYS = frozenset(
    {
        "path",
        "paths",
        "file",
        "files",
        "filename",
        "filepath",
        "file_path",
        "dir",
        "directory",
        "folder",
        "src",
        "dst",
        "source",
        "destination",
        "target",
        "cwd",
        "workdir",
        "working_dir",
        "dest",
        "output",
        "input_file",
        "output_file",
    }
)
_URL_KEYS = frozenset({"url", "urls", "uri", "endpoint", "host", "hostname", "domain", "href"})
_RESOURCE_KEYS = _PATH_KEYS | _URL_KEYS
_MAX_EXACT_INT = 2**53


def _fail(where: str, what: str) -> NoReturn:
    raise CanonicalizationError(f"{where}: {what}")


def canonical_path(value: str, *, base: str = "/", resolve_symlinks: bool = False) -> str:
    """Absolute, normalized form of a path (``file://`` URLs included).

    Percent-encoding is decoded until stable (so double encoding cannot hide ``..``), the text
    is NFKC-normalized (full-width dots and slashes become ASCII), ``~`` is expanded, and ``.``,
    ``..`` and duplicate slashes are collapsed. Relative paths are taken relative to ``base``.
    """
    if "\x00" in value:
        raise CanonicalizationError("path contains a NUL byte")
    text = value
    if text[:7].lower() == "file://":
        text = urlsplit(text).path
    for _ in range(8):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    else:
        raise CanonicalizationError("path is percent-encoded too many times")
    text = unicodedata.normalize("NFKC", text)
    if "\x00" in text:
        raise CanonicalizationError("path contains an encoded NUL byte")
    text = text.replace("\\", "/")
    if text.startswith("~"):
        text = os.path.expanduser(text)
    if not text.startswith("/"):
        text = posixpath.join(base, text)
    # normpath keeps a leading "//" (POSIX allows it to mean something special); we don't.
    text = posixpath.normpath("/" + text.lstrip("/"))
    if resolve_symlinks:
        text = os.path.realpath(text)
    return text


def canonical_host(value: str) -> str:
    """Lowercase, NFKC-normalized, IDNA-decoded host name without port, user info or trailing
    dot. IP addresses are returned in their canonical text form (``0x7f.1`` is not an IP; it
    stays a name and matches no IP rule, while ``127.000.000.001`` is rejected by ipaddress)."""
    if "\x00" in value:
        raise CanonicalizationError("host contains a NUL byte")
    text = unicodedata.normalize("NFKC", unquote(value)).strip()
    if "://" in text:
        text = urlsplit(text).netloc
    text = text.rpartition("@")[2]
    if text.startswith("["):  # IPv6 literal
        text = text[1 : text.find("]")] if "]" in text else text[1:]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    text = text.rstrip(".").lower()
    if not text:
        raise CanonicalizationError("empty host")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if any(ord(c) > 127 for c in text) or "xn--" in text:
        try:
            text = text.encode("idna").decode("ascii")  # validates, punycode form
            text = text.encode("ascii").decode("idna")  # then the readable Unicode form
        except UnicodeError as exc:
            raise CanonicalizationError(f"invalid international host name {value!r}") from exc
    return text


def _looks_like_url(s: str) -> bool:
    head = s[:16].lower()
    return "://" in head and not head.startswith("file://")


def _looks_like_path(s: str) -> bool:
    return s.startswith(("/", "./", "../", "~/", "file://")) or s[:8].lower() == "file://"


def _where(trail: tuple[Any, ...]) -> str:
    out = "args"
    for part in trail:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


class _Walker:
    """One pass over the arguments: copy, validate and collect resources. Error locations are
    rendered only when something fails (the common path builds no strings)."""

    __slots__ = ("base", "count", "hosts", "limits", "paths", "resolve")

    def __init__(self, limits: Limits, base: str | None, resolve: bool) -> None:
        self.limits = limits
        self.base = base
        self.resolve = resolve
        self.count = 0
        self.paths: dict[str, None] = {}
        self.hosts: dict[str, None] = {}

    def freeze(self, value: Any, trail: tuple[Any, ...], key: str) -> Any:
        self.count += 1
        if self.count > self.limits.max_items:
            _fail("args", f"more than {self.limits.max_items} values")
        cls = type(value)
        if cls is str:
            if "\x00" in value:
                _fail(_where(trail), "contains a NUL byte")
            if value and (
                key in _RESOURCE_KEYS
                or value[0] in "/.~"
                or "://" in value[:16]
                or value[:5].lower() == "file:"
            ):
                self._derive(value, trail, key)
            return value
        if value is None or cls is bool:
            return value
        if cls is int:
            # Beyond 2**53 the policy engines hold numbers as doubles: the policy would decide
            # on a different value than the tool receives. Such ids must travel as strings.
            if -_MAX_EXACT_INT <= value <= _MAX_EXACT_INT:
                return value
            _fail(
                _where(trail),
                f"integer {value} is outside the exact range +-2**53 (pass it as a string)",
            )
        if cls is float:
            if not math.isfinite(value):
                _fail(_where(trail), f"non-finite number {value!r} is not valid JSON")
            return value
        if len(trail) >= self.limits.max_depth:
            _fail(_where(trail), f"nested deeper than {self.limits.max_depth} levels")
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for k, v in value.items():
                if type(k) is not str:
                    _fail(_where(trail), f"key {k!r} is not a string")
                if "\x00" in k:
                    _fail(_where(trail), "a key contains a NUL byte")
                out[k] = self.freeze(v, (*trail, k), k.lower())
            return FrozenDict(out)
        if isinstance(value, list | tuple):
            return tuple(self.freeze(v, (*trail, i), key) for i, v in enumerate(value))
        if isinstance(value, str):  # str subclasses: keep the plain text only
            return self.freeze("" + value, trail, key)  # the text, not a subclass __str__
        if isinstance(value, int) and not isinstance(value, bool):
            return self.freeze(int(value), trail, key)
        if isinstance(value, float):
            return self.freeze(float(value), trail, key)
        _fail(_where(trail), f"value of type {type(value).__name__} is not JSON-serializable")

    def _derive(self, s: str, trail: tuple[Any, ...], key: str) -> None:
        try:
            if _looks_like_url(s) or key in _URL_KEYS:
                self.hosts[canonical_host(s)] = None
            elif _looks_like_path(s) or key in _PATH_KEYS:
                if self.base is None:
                    self.base = os.getcwd()  # only when a path is present: it is a syscall
                self.paths[canonical_path(s, base=self.base, resolve_symlinks=self.resolve)] = None
        except CanonicalizationError as exc:
            _fail(_where(trail), str(exc))


def canonicalize(
    args: Mapping[str, Any],
    *,
    limits: Limits = Limits(),
    base: str | None = None,
    resolve_symlinks: bool = True,
) -> CanonicalArgs:
    """Deep-copy ``args`` into a frozen structure and derive ``resource.paths``/``hosts``.

    Raises :class:`CanonicalizationError` for anything that is not plain JSON data or exceeds
    ``limits``. The returned ``args`` is what the policy sees *and* what the action runs with.
    """
    if not isinstance(args, Mapping):
        raise CanonicalizationError(f"args must be a mapping, not {type(args).__name__}")
    walker = _Walker(limits, base, resolve_symlinks)
    frozen = walker.freeze(args, (), "")
    return CanonicalArgs(frozen, tuple(walker.paths), tuple(walker.hosts))


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy of frozen arguments (what a tool function receives, so that
    tools which mutate their arguments keep working without touching the decided copy)."""
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value
