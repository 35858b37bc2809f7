"""Supply-chain pinning of MCP servers.

At approval time (``kitelogik mcp pin``) every tool a server offers is recorded with the SHA-256
of the canonical JSON (RFC 8785) of its definition: name, title, description, input schema,
output schema and annotations -- everything the model reads or the client relies on. Later a
server is verified against its pins: a tool whose definition hash changed (a rug pull: for
example a description that now tells the model to exfiltrate data), a tool that was never
approved, and a server that has no pins or announces another identity are refused.

The pin file is JSON (``{"version": 1, "servers": {name: {...}}}``); keep it under review and
version control like a lock file.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kitelogik.jcs import sha256_hex

__all__ = [
    "PINNED_FIELDS",
    "PinFile",
    "ServerPin",
    "ToolPin",
    "UnverifiedServerError",
    "Verification",
    "tool_definition",
    "tool_hash",
]

#: The parts of a tool definition that are pinned (wire names).
PINNED_FIELDS: tuple[str, ...] = (
    "name",
    "title",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
)


class UnverifiedServerError(PermissionError):
    """The server cannot be verified: no pins for it, or it announces another identity."""


def tool_definition(tool: Any) -> dict[str, Any]:
    """The pinned fields of an MCP ``Tool`` (an SDK model or its wire dict)."""
    if hasattr(tool, "model_dump"):
        data = tool.model_dump(by_alias=True, exclude_none=True, mode="json")
    elif isinstance(tool, Mapping):
        data = dict(tool)
    else:
        raise TypeError(f"not an MCP tool: {type(tool).__name__}")
    return {k: data[k] for k in PINNED_FIELDS if data.get(k) is not None}


def tool_hash(tool: Any) -> str:
    return sha256_hex(tool_definition(tool))


@dataclass(frozen=True, slots=True)
class ToolPin:
    sha256: str
    description: str = ""
    risk_tier: str = "operational"
    external: bool = True

    def facts(self) -> dict[str, Any]:
        """Tool facts for the policy input (set at approval time, never by the server)."""
        return {"risk_tier": self.risk_tier, "external": self.external}


@dataclass(frozen=True, slots=True)
class ServerPin:
    name: str
    server_name: str | None
    server_version: str | None
    tools: Mapping[str, ToolPin]
    pinned_at: float = 0.0
    command: tuple[str, ...] = ()
    #: SHA-256 of the server's ``instructions`` (read by the model like a tool description).
    instructions_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class Verification:
    server: str
    ok: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    new: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    details: Mapping[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.changed or self.new)

    def refusal(self, tool: str) -> str | None:
        """Why ``tool`` may not be used, or None."""
        if tool in self.changed:
            return (
                f"MCP tool '{tool}' of server '{self.server}' changed since it was pinned "
                "(possible rug pull); re-approve it with `kitelogik mcp pin`"
            )
        if tool in self.new:
            return (
                f"MCP tool '{tool}' of server '{self.server}' was never approved; approve it "
                "with `kitelogik mcp pin`"
            )
        if tool not in self.ok:
            return f"MCP server '{self.server}' offers no tool '{tool}'"
        return None

    def summary(self) -> str:
        parts = [f"{len(self.ok)} pinned tool(s) unchanged"]
        if self.changed:
            parts.append("changed: " + ", ".join(self.changed))
        if self.new:
            parts.append("not approved: " + ", ".join(self.new))
        if self.missing:
            parts.append("gone: " + ", ".join(self.missing))
        return f"{self.server}: " + "; ".join(parts)


class PinFile:
    """The pins of every approved server, in one JSON file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"version": 1, "servers": {}}
        data = json.loads(self.path.read_text())
        if (
            not isinstance(data, dict)
            or data.get("version") != 1
            or not isinstance(data.get("servers"), dict)
        ):
            raise ValueError(f"{self.path}: not a Kite Logik MCP pin file (version 1)")
        return data

    def get(self, server: str) -> ServerPin | None:
        entry = self._load()["servers"].get(server)
        if entry is None:
            return None
        tools = {
            name: ToolPin(
                t["sha256"],
                t.get("description", ""),
                t.get("risk_tier", "operational"),
                bool(t.get("external", True)),
            )
            for name, t in entry.get("tools", {}).items()
        }
        return ServerPin(
            server,
            entry.get("server_name"),
            entry.get("server_version"),
            tools,
            entry.get("pinned_at", 0.0),
            tuple(entry.get("command", ())),
            entry.get("instructions_sha256"),
        )

    def servers(self) -> list[str]:
        return sorted(self._load()["servers"])

    def pin(
        self,
        server: str,
        tools: Iterable[Any],
        *,
        server_name: str | None,
        server_version: str | None,
        risk_tiers: Mapping[str, str] | None = None,
        default_risk_tier: str = "operational",
        external: bool = True,
        command: Iterable[str] = (),
        only: Iterable[str] | None = None,
        instructions: str | object | None = ...,
    ) -> ServerPin:
        """Approve the given tool definitions of ``server`` (all, or ``only`` the named ones,
        keeping the other existing pins)."""
        data = self._load()
        old = data["servers"].get(server, {})
        pinned: dict[str, Any] = dict(old.get("tools", {})) if only is not None else {}
        wanted = set(only) if only is not None else None
        for tool in tools:
            d = tool_definition(tool)
            name = d["name"]
            if wanted is not None and name not in wanted:
                continue
            prev = pinned.get(name, {})
            pinned[name] = {
                "sha256": sha256_hex(d),
                "description": d.get("description", ""),
                "risk_tier": (risk_tiers or {}).get(name, prev.get("risk_tier", default_risk_tier)),
                "external": prev.get("external", external),
            }
        data["servers"][server] = {
            "server_name": server_name,
            "server_version": server_version,
            "pinned_at": time.time(),
            "command": list(command),
            "instructions_sha256": (
                None if instructions is ... else sha256_hex(str(instructions or ""))
            ),
            "tools": dict(sorted(pinned.items())),
        }
        self._write(data)
        pin = self.get(server)
        assert pin is not None
        return pin

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".pins-")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.path)

    def verify(
        self,
        server: str,
        tools: Iterable[Any],
        *,
        server_name: str | None,
        instructions: str | object | None = ...,
    ) -> Verification:
        """Compare a server's current tools with its pins. Raises
        :class:`UnverifiedServerError` when there are no pins for ``server``, the server
        announces a different name than the one pinned, or (when ``instructions`` is given) its
        instructions changed."""
        pin = self.get(server)
        if pin is None:
            raise UnverifiedServerError(
                f"MCP server '{server}' is not pinned: approve it with `kitelogik mcp pin`"
            )
        if pin.server_name is not None and server_name != pin.server_name:
            raise UnverifiedServerError(
                f"MCP server '{server}' announces itself as {server_name!r}, but "
                f"{pin.server_name!r} was pinned"
            )
        if (
            instructions is not ...
            and pin.instructions_sha256 is not None
            and sha256_hex(str(instructions or "")) != pin.instructions_sha256
        ):
            raise UnverifiedServerError(
                f"MCP server '{server}' changed its instructions since it was pinned "
                f"(now: {str(instructions or '')[:200]!r})"
            )
        ok, changed, new, details = [], [], [], {}
        seen: set[str] = set()
        for tool in tools:
            d = tool_definition(tool)
            name = d["name"]
            if name in seen:  # a duplicate name could shadow the approved definition
                changed.append(name)
                details[name] = "listed twice"
                continue
            seen.add(name)
            p = pin.tools.get(name)
            if p is None:
                new.append(name)
            elif p.sha256 != sha256_hex(d):
                changed.append(name)
                details[name] = f"description now: {d.get('description', '')!r}"
            else:
                ok.append(name)
        ok = [n for n in ok if n not in changed]
        missing = sorted(set(pin.tools) - seen)
        return Verification(
            server,
            tuple(sorted(ok)),
            tuple(sorted(set(changed))),
            tuple(sorted(new)),
            tuple(missing),
            details,
        )
