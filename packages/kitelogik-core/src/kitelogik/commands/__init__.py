"""Command modules of the ``kitelogik`` CLI. Each module defines ``register(app)``, which adds
its commands (or a sub-app, ``app.add_typer``) to the root Typer app; ``kitelogik.cli`` finds
them all, so adding a command group never edits a shared file."""
