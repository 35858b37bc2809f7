"""``kitelogik mcp pin|verify|show``: supply-chain pinning of MCP servers (stdio).

``kitelogik mcp pin NAME --pins mcp-pins.json -- python server.py`` starts the server, lists its
tools and records the hash of each definition (the approval). ``verify`` compares the server's
tools now with the pins: exit 0 when nothing changed, 1 when a tool changed or a tool is not
approved (rug pull), 2 when the server cannot be verified at all (no pins, another identity, or it
does not start).
"""

from __future__ import annotations

import json
from typing import Any

import typer

PinsOpt = typer.Option("mcp-pins.json", "--pins", help="The pin file (JSON; keep it in git).")
CommandArg = typer.Argument(..., help="The server command and its arguments (after --).")


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _run(coro: Any) -> Any:
    import anyio

    async def main() -> Any:
        return await coro

    return anyio.run(main)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        help="Pin and verify MCP servers (supply-chain protection).", no_args_is_help=True
    )

    @sub.command("pin")
    def pin(
        name: str = typer.Argument(..., help="The name the server is pinned under."),
        command: list[str] = CommandArg,
        pins: str = PinsOpt,
        risk_tier: str = typer.Option(
            "operational", "--risk-tier", help="Risk tier given to the approved tools."
        ),
        internal: bool = typer.Option(
            False, "--internal", help="Mark the tools as internal (default: external)."
        ),
        tool: list[str] = typer.Option(
            None, "--tool", help="Approve only these tools (repeatable)."
        ),
    ) -> None:
        """Approve the server's current tools: record the hash of every definition."""
        try:
            from kitelogik.mcp import PinFile, list_all_tools, server_instructions, stdio_session
        except ImportError as exc:
            raise _fail(f"{exc} (pip install 'kitelogik-core[mcp]')", 2) from None

        async def go() -> Any:
            async with stdio_session(command[0], command[1:]) as (session, sname, version):
                tools = await list_all_tools(session)
                return PinFile(pins).pin(
                    name,
                    tools,
                    server_name=sname,
                    server_version=version,
                    default_risk_tier=risk_tier,
                    external=not internal,
                    command=command,
                    only=tool or None,
                    instructions=server_instructions(session),
                )

        try:
            result = _run(go())
        except Exception as exc:  # noqa: BLE001 - report and exit non-zero
            raise _fail(f"could not pin '{name}': {type(exc).__name__}: {exc}", 2) from None
        for tname, tp in result.tools.items():
            typer.echo(f"pinned {name}.{tname}  sha256:{tp.sha256[:16]}  tier={tp.risk_tier}")
        typer.echo(f"{len(result.tools)} tool(s) of '{name}' pinned in {pins}")

    @sub.command("verify")
    def verify(
        name: str = typer.Argument(..., help="The name the server is pinned under."),
        command: list[str] = CommandArg,
        pins: str = PinsOpt,
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Check the server's tools against its pins (exit 1 on drift, 2 if unverifiable)."""
        try:
            from kitelogik.mcp import (
                PinFile,
                UnverifiedServerError,
                list_all_tools,
                server_instructions,
                stdio_session,
            )
        except ImportError as exc:
            raise _fail(f"{exc} (pip install 'kitelogik-core[mcp]')", 2) from None

        async def go() -> Any:
            async with stdio_session(command[0], command[1:]) as (session, sname, _v):
                tools = await list_all_tools(session)
                return PinFile(pins).verify(
                    name, tools, server_name=sname, instructions=server_instructions(session)
                )

        try:
            v = _run(go())
        except UnverifiedServerError as exc:
            raise _fail(str(exc), 2) from None
        except Exception as exc:  # noqa: BLE001
            raise _fail(f"could not verify '{name}': {type(exc).__name__}: {exc}", 2) from None
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "server": v.server,
                        "ok": list(v.ok),
                        "changed": list(v.changed),
                        "new": list(v.new),
                        "missing": list(v.missing),
                        "details": dict(v.details),
                        "clean": v.clean,
                    },
                    indent=2,
                )
            )
        else:
            typer.echo(v.summary())
            for tname, detail in v.details.items():
                typer.echo(f"  {tname}: {detail}")
        if not v.clean:
            raise typer.Exit(1)

    @sub.command("show")
    def show(pins: str = PinsOpt) -> None:
        """List the pinned servers and tools."""
        from kitelogik.mcp.pins import PinFile

        pf = PinFile(pins)
        for server in pf.servers():
            p = pf.get(server)
            assert p is not None
            typer.echo(f"{server} ({p.server_name or '?'} {p.server_version or ''})".rstrip())
            for tname, tp in p.tools.items():
                typer.echo(
                    f"  {tname}  sha256:{tp.sha256[:16]}  tier={tp.risk_tier}  "
                    f"external={str(tp.external).lower()}"
                )

    app.add_typer(sub, name="mcp")
