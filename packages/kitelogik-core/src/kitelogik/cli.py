"""The ``kitelogik`` command line. Each command group lives in its own module under
``kitelogik.commands`` and is added here, so this file stays a table of contents."""

from __future__ import annotations

import typer

from kitelogik import __version__

app = typer.Typer(
    name="kitelogik",
    help="Kite Logik: policy-as-code governance for AI agents.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(__version__)


@app.command()
def demo(
    policy_dir: str = typer.Option(None, "--policy-dir", help="Project policy directory."),
) -> None:
    """Run the offline demo agent through governed actions and print the decisions."""
    from kitelogik.demo import run_demo

    raise typer.Exit(run_demo(policy_dir))


def main() -> None:
    app()
