"""Governed MCP: every MCP tool call through the gate, and supply-chain pinning of servers.

Needs the official SDK: ``pip install 'kitelogik-core[mcp]'``. See ``docs/control-plane.md``.
"""

from __future__ import annotations

from kitelogik.mcp.client import (
    GovernedMCPSession,
    MCPToolRefused,
    govern,
    governed_stdio,
    list_all_tools,
    server_instructions,
    stdio_session,
)
from kitelogik.mcp.pins import (
    PinFile,
    ServerPin,
    ToolPin,
    UnverifiedServerError,
    Verification,
    tool_definition,
    tool_hash,
)

__all__ = [
    "GovernedMCPSession",
    "MCPToolRefused",
    "PinFile",
    "ServerPin",
    "ToolPin",
    "UnverifiedServerError",
    "Verification",
    "govern",
    "governed_stdio",
    "list_all_tools",
    "server_instructions",
    "stdio_session",
    "tool_definition",
    "tool_hash",
]
