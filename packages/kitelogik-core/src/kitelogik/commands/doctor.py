"""``kitelogik doctor``: installed plugins, their supported framework ranges, the installed
framework versions, and whether each is supported."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from kitelogik import __version__


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        no_import: Annotated[
            bool, typer.Option("--no-import", help="Only read metadata; do not import plugins.")
        ] = False,
        require: Annotated[
            list[str] | None,
            typer.Option("--require", help="Fail unless this plugin is installed and supported."),
        ] = None,
    ) -> None:
        """List installed plugins (entry-point group kitelogik.adapters) and check each one's
        framework version against the range it supports."""
        from kitelogik.adapters import ENTRY_POINT_GROUP, installed_plugins

        plugins = installed_plugins(load=not no_import)
        rows = [
            {
                "plugin": p.name,
                "distribution": p.distribution,
                "version": p.version,
                "requirements": [
                    {"requirement": r, "installed": have, "ok": ok}
                    for r, have, ok in p.requirements
                ],
                "import_error": p.error,
                "hooks": list(p.info.hooks) if p.info else [],
                "supported": p.supported,
            }
            for p in plugins
        ]
        if as_json:
            typer.echo(json.dumps({"core": __version__, "plugins": rows}, indent=2))
        else:
            from rich.console import Console
            from rich.table import Table

            console = Console(file=sys.stdout)
            console.print(f"kitelogik-core {__version__}, Python {sys.version.split()[0]}")
            if not rows:
                console.print(f"no plugins installed (entry-point group {ENTRY_POINT_GROUP})")
            table = Table("plugin", "version", "supports", "installed", "status")
            for row in rows:
                reqs = row["requirements"] or [{"requirement": "-", "installed": None, "ok": True}]
                for i, r in enumerate(reqs):
                    first = i == 0
                    if not first:
                        status = ""
                    elif row["supported"]:
                        status = "[green]supported[/green]"
                    elif row["import_error"]:
                        status = f"[red]import failed: {row['import_error']}[/red]"
                    else:
                        status = "[red]unsupported version[/red]"
                    table.add_row(
                        row["plugin"] if first else "",
                        (row["version"] or "?") if first else "",
                        r["requirement"],
                        r["installed"] or "[red]missing[/red]",
                        status,
                    )
            if rows:
                console.print(table)
        failed = [r for r in rows if not r["supported"]]
        missing = [n for n in require or [] if n not in {r["plugin"] for r in rows}]
        wanted = [r for r in failed if r["plugin"] in set(require or [])]
        if missing:
            typer.echo(f"required plugin(s) not installed: {', '.join(missing)}", err=True)
        if missing or wanted:
            raise typer.Exit(1)
