"""The ``kitelogik`` command line (Typer + Rich). Command groups live in ``kitelogik.commands``:
every module there defines ``register(app)``; this file only collects them."""

from __future__ import annotations

import importlib
import pkgutil

import typer

from kitelogik import __version__

app = typer.Typer(
    name="kitelogik",
    help="Kite Logik: policy-as-code governance for AI agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def version() -> None:
    """Print the installed version."""
    typer.echo(__version__)


def _register_commands() -> None:
    import kitelogik.commands as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"kitelogik.commands.{info.name}")
        module.register(app)


_register_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
