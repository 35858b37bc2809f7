"""``kitelogik init NAME``: scaffold a governed agent project."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        name: Path = typer.Argument(
            ..., help="Project directory to create (its name is the project name)."
        ),
        force: bool = typer.Option(
            False, "--force", help="Write into an existing non-empty directory."
        ),
    ) -> None:
        """Create a project that runs at once: agent.py, policies (YAML, compiled Rego, tests)."""
        from kitelogik.policy.scaffold import scaffold

        try:
            files = scaffold(name, force=force)
        except (ValueError, OSError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        for f in files:
            typer.echo(f"created {f}")
        typer.echo(f"\nnext: cd {name} && python agent.py && kitelogik test")
