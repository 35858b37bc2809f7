# ruff: noqa: E501
"""``kitelogik compliance``: OWASP Top 10 for Agentic Applications coverage, with evidence."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def compliance(
        path: Path = typer.Argument(Path("policies"), help="Project policy directory."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
        min_coverage: float = typer.Option(
            0.0,
            "--min-coverage",
            min=0.0,
            max=100.0,
            help="Exit 1 below this percentage of items covered.",
        ),
        exact: bool = typer.Option(
            False, "--exact", help="Evaluate PATH alone, without the shipped global tier."
        ),
        verbose: bool = typer.Option(
            False, "--verbose", "-v", help="Show every probe, not only failed ones."
        ),
    ) -> None:
        """Probe the policy set with inputs for each ASI item; covered = decided as a defence would."""
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        from kitelogik.policy.compliance import run_compliance

        if not path.exists():
            typer.echo(f"error: {path}: no such directory", err=True)
            raise typer.Exit(2)
        report = run_compliance(path, exact=exact)
        if as_json:
            typer.echo(json.dumps(report.to_json(), indent=2))
        else:
            console = Console()
            if not console.is_terminal:
                console = Console(width=160)
            if report.error:
                console.print(f"[red]policy set not loaded: {escape(report.error)}[/]")
            table = Table(title="OWASP Top 10 for Agentic Applications", show_lines=True)
            table.add_column("item")
            table.add_column("covered")
            table.add_column("evidence (probe: expected -> decided)")
            for item in report.items:
                lines = []
                for p in item.probes:
                    if verbose or not p.ok or not item.covered:
                        mark = "[green]ok[/]" if p.ok else "[red]FAIL[/]"
                        rules = f" [dim]({escape(', '.join(p.rules))})[/]" if p.rules else ""
                        lines.append(f"{mark} {escape(p.probe)}: {p.expect} -> {p.verdict}{rules}")
                    else:
                        lines.append(f"[green]ok[/] {escape(p.probe)}: {p.verdict}")
                table.add_row(
                    f"{item.id} {item.title}",
                    "[green]yes[/]" if item.covered else "[red]no[/]",
                    "\n".join(lines),
                )
            console.print(table)
            console.print(
                f"coverage: {report.covered}/{len(report.items)} ({report.coverage:.0f}%)"
            )
        if report.coverage < min_coverage or (report.error and min_coverage > 0):
            if not as_json:
                typer.echo(
                    f"coverage {report.coverage:.0f}% is below --min-coverage {min_coverage:g}%",
                    err=True,
                )
            raise typer.Exit(1)
