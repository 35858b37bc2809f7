"""A governed MCP client on the official ``mcp`` SDK (extra ``kitelogik-core[mcp]``).

:class:`GovernedMCPSession` wraps an initialized ``mcp.ClientSession``:

* the server is verified against its pins first (:mod:`kitelogik.mcp.pins`): an unpinned server,
  or one announcing another identity, is refused outright; a tool whose definition changed since
  it was pinned (rug pull) or that was never approved is refused and hidden from
  :meth:`list_tools`, so the model never even reads its new description;
* every tool call goes through the gate as a ``tool_call`` event (action
  ``mcp__<server>__<tool>`` by default, the usual MCP naming) with tool facts from the pin
  (``risk_tier``, ``external``, ``labels.mcp_server``, ``labels.mcp_pin``), and runs with exactly
  the decided arguments; its outcome is audited and its budget settled;
* with ``verify_each_call=True`` the listing is fetched and verified again before every call, so
  a server that changes a tool in the middle of a session is caught at the next call.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from kitelogik.decision import GovernanceError
from kitelogik.events import SessionContext, ToolCall
from kitelogik.mcp.pins import PinFile, UnverifiedServerError, Verification, tool_definition

__all__ = [
    "GovernedMCPSession",
    "MCPToolRefused",
    "govern",
    "governed_stdio",
    "list_all_tools",
    "server_instructions",
    "stdio_session",
]


class MCPToolRefused(PermissionError):
    """The tool may not be used: changed since pinned, never approved, or not offered."""


async def list_all_tools(session: Any) -> list[Any]:
    """Every tool of the server, following pagination (SDK 1.x and 2.x)."""
    tools: list[Any] = []
    cursor: str | None = None
    for _ in range(1000):
        if cursor is None:
            result = await session.list_tools()
        else:
            try:
                from mcp import types

                result = await session.list_tools(
                    params=types.PaginatedRequestParams(cursor=cursor)
                )
            except TypeError:  # SDK 1.x
                result = await session.list_tools(cursor=cursor)
        tools.extend(result.tools)
        cursor = getattr(result, "next_cursor", None) or getattr(result, "nextCursor", None)
        if not cursor:
            break
    return tools


def _errlog() -> Any:
    """Where the server's stderr goes: ours, when it is a real file (the subprocess needs a file
    descriptor; test runners and CLIs often replace ``sys.stderr`` with a buffer)."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return sys.__stderr__
    return sys.stderr


def server_instructions(session: Any, init: Any = None) -> str | object | None:
    """The server's ``instructions`` from its initialize result (``...`` when unknown)."""
    for source in (init, getattr(session, "initialize_result", None)):
        if source is not None and hasattr(source, "instructions"):
            return source.instructions
    return ...


def _server_identity(init: Any) -> tuple[str | None, str | None]:
    info = getattr(init, "server_info", None) or getattr(init, "serverInfo", None)
    if info is None:
        return None, None
    return getattr(info, "name", None), getattr(info, "version", None)


class GovernedMCPSession:
    """See the module doc. ``server``: the name the server is pinned under; ``gate``: a
    :class:`~kitelogik.gate.PolicyGate`; ``pins``: a :class:`PinFile` (or its path);
    ``context``: the :class:`SessionContext` the calls are made in."""

    def __init__(
        self,
        session: Any,
        *,
        server: str,
        gate: Any,
        pins: PinFile | str,
        context: SessionContext,
        server_name: str | None = None,
        instructions: str | object | None = ...,
        action_format: str = "mcp__{server}__{tool}",
        verify_each_call: bool = False,
        strict: bool = False,
    ) -> None:
        self.session = session
        self.server = server
        self.gate = gate
        self.pins = pins if isinstance(pins, PinFile) else PinFile(pins)
        self.context = context
        self.server_name = server_name
        self.instructions = instructions
        self.action_format = action_format
        self.verify_each_call = verify_each_call
        self.strict = strict
        self.verification: Verification | None = None
        self._tools: dict[str, Any] = {}

    async def verify(self) -> Verification:
        """Fetch the server's tools and check them against the pins (raises
        :class:`UnverifiedServerError` for an unverifiable server, and with ``strict`` for any
        drift)."""
        tools = await list_all_tools(self.session)
        v = self.pins.verify(
            self.server, tools, server_name=self.server_name, instructions=self.instructions
        )
        self.verification = v
        self._tools = {t.name: t for t in tools if t.name in v.ok}
        if self.strict and not v.clean:
            raise UnverifiedServerError(f"MCP server drifted from its pins: {v.summary()}")
        return v

    async def list_tools(self) -> list[Any]:
        """The approved, unchanged tools only (what the model may be shown)."""
        if self.verification is None:
            await self.verify()
        return list(self._tools.values())

    def action(self, tool: str) -> str:
        return self.action_format.format(server=self.server, tool=tool)

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        context: SessionContext | None = None,
    ) -> Any:
        """Call an approved tool through the gate. Raises :class:`MCPToolRefused` for a tool
        that is not approved or changed, :class:`GovernanceError` when the gate does not allow
        the call."""
        if self.verification is None or self.verify_each_call:
            await self.verify()
        assert self.verification is not None
        ctx = context or self.context
        refusal = self.verification.refusal(name)
        pin = self.pins.get(self.server)
        if refusal is None and (pin is None or name not in pin.tools):
            refusal = f"MCP tool '{name}' of server '{self.server}' is not pinned"
        if refusal is not None or pin is None:
            # Refused here whatever the policy says; the gate still decides (and audits) the
            # attempt, with the pin status as a fact the policy denies on.
            status = (
                "changed"
                if name in self.verification.changed
                else "unapproved"
                if name in self.verification.new
                else "absent"
            )
            attempt = ToolCall(
                action=self.action(name),
                args=dict(arguments or {}),
                context=ctx,
                tool={
                    "mcp_server": self.server,
                    "risk_tier": "security_critical",
                    "external": True,
                    "labels": {"mcp_server": self.server, "mcp_tool": name, "mcp_pin": status},
                },
            )
            await self.gate.acheck(attempt)
            raise MCPToolRefused(refusal or "the MCP server is not pinned")
        annotations = tool_definition(self._tools[name]).get("annotations") or {}
        tp = pin.tools[name]
        facts = {
            **tp.facts(),
            "mcp_server": self.server,
            "labels": {
                "mcp_server": self.server,
                "mcp_tool": name,
                "mcp_pin": "verified",
                "mcp_sha256": tp.sha256,
                "destructive_hint": annotations.get("destructiveHint") is True,
            },
        }
        event = ToolCall(
            action=self.action(name), args=dict(arguments or {}), context=ctx, tool=facts
        )
        decision = await self.gate.aauthorize(event)
        if not decision.allowed:
            raise GovernanceError(decision)
        session = self.session

        async def run(**args: Any) -> Any:
            result = await session.call_tool(name, args)
            if getattr(result, "is_error", None) or getattr(result, "isError", None):
                raise MCPErrorResult(result)
            return result

        try:
            return await self.gate.ainvoke(decision, run)
        except MCPErrorResult as err:
            return err.result


class MCPErrorResult(Exception):
    """The MCP tool answered with an error result (carried through ``ainvoke`` so the outcome
    is audited as failed; :meth:`GovernedMCPSession.call_tool` returns the result itself)."""

    def __init__(self, result: Any) -> None:
        super().__init__(_error_text(result))
        self.result = result


def _error_text(result: Any) -> str:
    for block in getattr(result, "content", None) or ():
        text = getattr(block, "text", None)
        if text:
            return str(text)[:500]
    return "the MCP tool returned an error"


async def govern(
    session: Any,
    *,
    server: str,
    gate: Any,
    pins: PinFile | str,
    context: SessionContext,
    init: Any = None,
    **options: Any,
) -> GovernedMCPSession:
    """Govern an ``mcp.ClientSession`` on any transport (stdio, streamable HTTP, SSE): it is
    initialized unless its ``InitializeResult`` is given as ``init``, then verified against its
    pins (raises :class:`UnverifiedServerError`)."""
    if init is None:
        init = await session.initialize()
    name, _version = _server_identity(init)
    governed = GovernedMCPSession(
        session,
        server=server,
        gate=gate,
        pins=pins,
        context=context,
        server_name=name,
        instructions=server_instructions(session, init),
        **options,
    )
    await governed.verify()
    return governed


@asynccontextmanager
async def governed_stdio(
    command: str,
    args: list[str] | None = None,
    *,
    server: str,
    gate: Any,
    pins: PinFile | str,
    context: SessionContext,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    errlog: Any = None,
    **options: Any,
) -> AsyncIterator[GovernedMCPSession]:
    """Start a stdio MCP server, initialize, verify it against its pins and yield a
    :class:`GovernedMCPSession`. The server process is stopped on exit."""
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=command, args=list(args or []), env=env, cwd=cwd)
    try:
        async with (
            stdio_client(params, errlog=errlog or _errlog()) as (read, write),
            ClientSession(read, write) as session,
        ):
            yield await govern(
                session, server=server, gate=gate, pins=pins, context=context, **options
            )
    except BaseExceptionGroup as group:
        # The SDK's task groups wrap what was raised inside; hand back a lone error as it was.
        lone = _lone(group)
        if lone is not None:
            raise lone from None
        raise


def _lone(group: BaseExceptionGroup) -> Exception | None:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc if isinstance(exc, Exception) and not isinstance(exc, BaseExceptionGroup) else None


@asynccontextmanager
async def stdio_session(
    command: str,
    args: list[str] | None = None,
    *,
    env: dict[str, str] | None = None,
    errlog: Any = None,
) -> AsyncIterator[tuple[Any, str | None, str | None]]:
    """An initialized plain session (for pinning): yields (session, server name, version)."""
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=command, args=list(args or []), env=env)
    try:
        async with (
            stdio_client(params, errlog=errlog or _errlog()) as (read, write),
            ClientSession(read, write) as session,
        ):
            init = await session.initialize()
            name, version = _server_identity(init)
            yield session, name, version
    except BaseExceptionGroup as group:
        lone = _lone(group)
        if lone is not None:
            raise lone from None
        raise
