"""``kitelogik demo``: the offline demo agent."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        policy_dir: str = typer.Option(None, "--policy-dir", help="Project policy directory."),
    ) -> None:
        """Run a scripted agent through governed actions and print every decision."""
        from kitelogik.demo import run_demo

        raise typer.Exit(run_demo(policy_dir))
