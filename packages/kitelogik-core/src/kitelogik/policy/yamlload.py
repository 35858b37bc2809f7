"""A strict YAML loader that keeps the position of every value.

PyYAML's composer gives every node a start mark (line and column); this module turns the node
tree into plain Python values (``MarkedMap`` / ``MarkedList`` keep the marks of their members) and
refuses what a policy file has no use for and an attacker could abuse: duplicate keys (PyYAML keeps
the last one silently), anchors and aliases (exponential "billion laughs" expansion), non-string
keys, tags outside the JSON types, dates, binary, huge or deeply nested documents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_SOURCE_BYTES",
    "Loc",
    "MarkedList",
    "MarkedMap",
    "PolicyError",
    "load_marked",
]

MAX_SOURCE_BYTES = 1024 * 1024
MAX_NODES = 200_000
MAX_DEPTH = 48


@dataclass(frozen=True, slots=True)
class Loc:
    """A position in a source file (1-based line and column)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class PolicyError(ValueError):
    """One or more errors in a policy source. ``str()`` gives one ``file:line:col: message`` line
    per error; ``errors`` holds them as ``(Loc, message)`` pairs."""

    def __init__(self, errors: list[tuple[Loc, str]]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(f"{loc}: {msg}" for loc, msg in self.errors))

    @classmethod
    def at(cls, loc: Loc, message: str) -> PolicyError:
        return cls([(loc, message)])


class MarkedMap(dict[str, Any]):
    """A mapping that remembers where it, each key and each value start."""

    loc: Loc
    key_locs: dict[str, Loc]
    value_locs: dict[str, Loc]


class MarkedList(list[Any]):
    """A sequence that remembers where it and each item start."""

    loc: Loc
    item_locs: list[Loc]


_JSON_SCALARS = (str, int, float, bool, type(None))
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _loc(file: str, node: yaml.Node) -> Loc:
    mark = node.start_mark
    return Loc(file, mark.line + 1, mark.column + 1)


def load_marked(text: str, file: str, warnings: list[tuple[Loc, str]] | None = None) -> Any:
    """Parse one YAML document into marked values. Raises :class:`PolicyError`. YAML 1.1
    booleans spelled ``yes``/``no``/``on``/``off`` are reported into ``warnings``."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_SOURCE_BYTES:
        raise PolicyError.at(
            Loc(file, 1, 1),
            f"file is {size} bytes; policy files are limited to {MAX_SOURCE_BYTES} bytes",
        )
    if "\x00" in text:
        raise PolicyError.at(Loc(file, 1, 1), "file contains a NUL byte; expected YAML text")
    # libyaml's parser when PyYAML has it (about 10x faster); same marks and errors.
    loader = _LOADER(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            loc = Loc(file, mark.line + 1, mark.column + 1) if mark else Loc(file, 1, 1)
            problem = exc.problem or exc.context or "invalid YAML"
            raise PolicyError.at(loc, f"invalid YAML: {problem}") from None
        except yaml.YAMLError as exc:
            raise PolicyError.at(Loc(file, 1, 1), f"invalid YAML: {exc}") from None
        except RecursionError:
            raise PolicyError.at(Loc(file, 1, 1), "invalid YAML: nesting is too deep") from None
        if node is None:
            return None
        state = _State(file, loader)
        out = state.convert(node, 0)
        if warnings is not None:
            warnings.extend(state.warnings)
        return out
    finally:
        loader.dispose()


class _State:
    def __init__(self, file: str, loader: Any) -> None:
        self.file = file
        self.loader = loader
        self.seen: set[int] = set()
        self.count = 0
        self.warnings: list[tuple[Loc, str]] = []

    def convert(self, node: yaml.Node, depth: int) -> Any:
        loc = _loc(self.file, node)
        if id(node) in self.seen:
            raise PolicyError.at(loc, "YAML anchors and aliases are not supported in policy files")
        self.seen.add(id(node))
        self.count += 1
        if self.count > MAX_NODES:
            raise PolicyError.at(loc, f"document has more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise PolicyError.at(loc, f"nesting deeper than {MAX_DEPTH} levels")
        if not node.tag.startswith("tag:yaml.org,2002:"):
            raise PolicyError.at(loc, f"unsupported YAML tag {node.tag!r}")
        if isinstance(node, yaml.MappingNode):
            out = MarkedMap()
            out.loc = loc
            out.key_locs = {}
            out.value_locs = {}
            for knode, vnode in node.value:
                kloc = _loc(self.file, knode)
                if not isinstance(knode, yaml.ScalarNode):
                    raise PolicyError.at(kloc, "mapping keys must be plain strings")
                if knode.tag == "tag:yaml.org,2002:merge":
                    raise PolicyError.at(kloc, "YAML merge keys (<<) are not supported")
                key = self._scalar(knode, kloc)
                if not isinstance(key, str):
                    raise PolicyError.at(
                        kloc, f"mapping keys must be strings, got {type(key).__name__} {key!r}"
                    )
                if key in out:
                    first = out.key_locs[key]
                    raise PolicyError.at(
                        kloc, f"duplicate key {key!r} (first defined at line {first.line})"
                    )
                out.key_locs[key] = kloc
                out.value_locs[key] = _loc(self.file, vnode)
                out[key] = self.convert(vnode, depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            items = MarkedList()
            items.loc = loc
            items.item_locs = []
            for child in node.value:
                items.item_locs.append(_loc(self.file, child))
                items.append(self.convert(child, depth + 1))
            return items
        return self._scalar(node, loc)

    def _scalar(self, node: yaml.Node, loc: Loc) -> Any:
        if node.tag == "tag:yaml.org,2002:str":
            return node.value  # the common case, without the constructor's machinery
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise PolicyError.at(loc, f"invalid YAML value: {exc}") from None
        except (ValueError, OverflowError) as exc:
            raise PolicyError.at(loc, f"invalid YAML value: {exc}") from None
        if not isinstance(value, _JSON_SCALARS):
            kind = type(value).__name__
            raise PolicyError.at(
                loc, f"a {kind} value is not supported here; quote it to make it a string"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise PolicyError.at(loc, "NaN and infinite numbers are not supported")
        if isinstance(value, bool) and str(node.value).lower() not in ("true", "false"):
            self.warnings.append(
                (
                    loc,
                    f"{node.value!r} is the boolean {str(value).lower()} in YAML; quote it if you "
                    "mean the text",
                )
            )
        return value
