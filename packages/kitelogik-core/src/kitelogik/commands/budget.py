"""``kitelogik budget set|show|release-stale``: inspect and configure budget ledgers.

``--store`` is a SQLite file (default ``$KITELOGIK_HOME/budgets.db``) or a ``postgresql://`` DSN.
Accounts are ``session:<id>``, ``agent:<id>`` or ``org:<name>``.
"""

from __future__ import annotations

import json
from typing import Any

import typer

StoreOpt = typer.Option(
    None,
    "--store",
    envvar="KITELOGIK_BUDGET_STORE",
    help="SQLite file or postgresql:// DSN (default: $KITELOGIK_HOME/budgets.db).",
)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _ledger(store: str | None) -> Any:
    if store and store.startswith(("postgresql://", "postgres://")):
        from kitelogik.budgets import PostgresBudgetLedger

        return PostgresBudgetLedger(store)
    from kitelogik.budgets import SQLiteBudgetLedger

    return SQLiteBudgetLedger(store)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        help="Resource budgets: limits and usage per session, agent tree, org.",
        no_args_is_help=True,
    )

    @sub.command("set")
    def set_limits(
        account: str = typer.Argument(..., help="session:<id>, agent:<id> or org:<name>."),
        limits: list[str] = typer.Argument(..., help="dimension=amount, e.g. tokens=100000."),
        store: str = StoreOpt,
    ) -> None:
        """Set limits of an account (usage so far is kept)."""
        amounts: dict[str, float] = {}
        for item in limits:
            dim, sep, value = item.partition("=")
            try:
                if not sep:
                    raise ValueError
                amounts[dim] = float(value)
            except ValueError:
                raise _fail(f"expected dimension=amount, got {item!r}") from None
        try:
            led = _ledger(store)
            led.set_limits(account, amounts)
        except (ValueError, OSError) as exc:
            raise _fail(str(exc)) from None
        for dim, row in led.usage(account).items():
            typer.echo(
                f"{account} {dim}: limit {row['limit']:g}, used {row['used']:g}, "
                f"held {row['held']:g}, remaining {row['remaining']:g}"
            )
        led.close()

    @sub.command("show")
    def show(
        account: str = typer.Argument(..., help="session:<id>, agent:<id> or org:<name>."),
        store: str = StoreOpt,
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Limits, usage, holds and what remains of an account (exit 1 if it has none)."""
        led = _ledger(store)
        usage = led.usage(account)
        led.close()
        if as_json:
            typer.echo(json.dumps(usage, indent=2, sort_keys=True))
        else:
            for dim, row in usage.items():
                typer.echo(
                    f"{account} {dim}: limit {row['limit']:g}, used {row['used']:g}, "
                    f"held {row['held']:g}, remaining {row['remaining']:g}"
                )
        if not usage:
            typer.echo(f"{account}: no limits", err=True)
            raise typer.Exit(1)

    @sub.command("release-stale")
    def release_stale(
        older_than: float = typer.Option(
            3600.0, "--older-than", help="Release holds older than this many seconds."
        ),
        store: str = StoreOpt,
    ) -> None:
        """Release holds left behind by processes that died between reserve and settle."""
        led = _ledger(store)
        n = led.release_stale(older_than)
        led.close()
        typer.echo(f"released {n} stale hold(s)")

    app.add_typer(sub, name="budget")
