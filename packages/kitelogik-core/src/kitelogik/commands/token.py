"""``kitelogik token issue|delegate|inspect|revoke|jwks|rotate``: session credentials."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

_STORE_HELP = "SQLite file or postgresql:// DSN (default: $KITELOGIK_HOME/credentials.db)."
_KEYS_HELP = "Key file (default: $KITELOGIK_HOME/credential-keys.json, created 0600)."
_HOME_HELP = (
    "Directory for the default store and key file (default: $KITELOGIK_HOME or ./.kitelogik)."
)

StoreOpt = typer.Option(None, "--store", envvar="KITELOGIK_CREDENTIALS_STORE", help=_STORE_HELP)
KeysOpt = typer.Option(None, "--keys", envvar="KITELOGIK_CREDENTIALS_KEYS", help=_KEYS_HELP)
HomeOpt = typer.Option(None, "--home", help=_HOME_HELP)
JsonOpt = typer.Option(False, "--json", help="Print every field as JSON instead of the token.")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _broker(store: str | None, keys: str | None, home: str | None) -> Iterator[Any]:
    try:
        from kitelogik.anchor.credentials import CredentialBroker
    except ImportError as exc:
        raise _fail(str(exc), 2) from None
    try:
        broker = CredentialBroker(store=store, keys=keys, home=home)
    except (OSError, ValueError, PermissionError) as exc:
        raise _fail(f"cannot open the credential broker: {exc}", 2) from None
    try:
        yield broker
    finally:
        broker.close()


def _print_issued(issued: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(asdict(issued), indent=2))
    else:
        typer.echo(issued.token)
        typer.echo(f"token id {issued.token_id}, expires at {issued.expires_at}", err=True)


def register(app: typer.Typer) -> None:
    token_app = typer.Typer(
        name="token",
        help="Session credentials: issue, delegate, inspect, revoke; export the public JWKS.",
        no_args_is_help=True,
    )

    @token_app.command("issue")
    def issue(
        session: str = typer.Option(..., "--session", "-s", help="Session id."),
        scope: list[str] = typer.Option([], "--scope", help="A scope (repeat for more)."),
        ttl: int | None = typer.Option(None, "--ttl", help="Lifetime in seconds (default 900)."),
        agent: str | None = typer.Option(None, "--agent", help="Agent id."),
        as_json: bool = JsonOpt,
        store: str | None = StoreOpt,
        keys: str | None = KeysOpt,
        home: str | None = HomeOpt,
    ) -> None:
        """Issue a root token; prints the token (its id goes to stderr)."""
        with _broker(store, keys, home) as broker:
            try:
                issued = broker.issue(session, scope, ttl, agent_id=agent)
            except (TypeError, ValueError) as exc:
                raise _fail(str(exc)) from None
            _print_issued(issued, as_json)

    @token_app.command("delegate")
    def delegate(
        parent: str = typer.Argument(..., help="Parent token id or token string."),
        session: str = typer.Option(..., "--session", "-s", help="Session id of the child."),
        scope: list[str] = typer.Option([], "--scope", help="A scope (repeat for more)."),
        ttl: int | None = typer.Option(
            None, "--ttl", help="Lifetime in seconds (clamped to the parent's expiry)."
        ),
        agent: str | None = typer.Option(None, "--agent", help="Agent id of the child."),
        as_json: bool = JsonOpt,
        store: str | None = StoreOpt,
        keys: str | None = KeysOpt,
        home: str | None = HomeOpt,
    ) -> None:
        """Delegate a narrower child token from a parent token."""
        from kitelogik.protocols import CredentialError

        with _broker(store, keys, home) as broker:
            try:
                issued = broker.delegate(parent, scope, session, ttl, agent_id=agent)
            except (CredentialError, TypeError, ValueError) as exc:
                raise _fail(str(exc)) from None
            _print_issued(issued, as_json)

    @token_app.command("inspect")
    def inspect(
        token: str = typer.Argument(..., help="A token string or a token id ('-' reads stdin)."),
        session: str | None = typer.Option(
            None, "--session", "-s", help="Also check the token is for this session."
        ),
        store: str | None = StoreOpt,
        keys: str | None = KeysOpt,
        home: str | None = HomeOpt,
    ) -> None:
        """Verify a token (or look up an id) and print what is known about it as JSON.
        Exits 1 when the token may not be used."""
        from kitelogik.protocols import CredentialError

        if token == "-":  # noqa: S105 - "-" means stdin, not a password
            token = sys.stdin.read().strip()
        with _broker(store, keys, home) as broker:
            out: dict[str, Any] = {}
            if token.count(".") == 2:
                try:
                    cred = (
                        broker.verify_for(token, session)
                        if session is not None
                        else broker.verify(token)
                    )
                except CredentialError as exc:
                    out = {"valid": False, "reason": str(exc)}
                else:
                    out = {
                        "valid": True,
                        "claims": cred.to_input(),
                        "record": broker.introspect(cred.token_id),
                    }
            else:
                info = broker.introspect(token)
                out = {"valid": bool(info["active"]), "record": info}
            typer.echo(json.dumps(out, indent=2, sort_keys=True))
            if not out["valid"]:
                raise typer.Exit(1)

    @token_app.command("revoke")
    def revoke(
        token_id: str = typer.Argument(..., help="Token id to revoke."),
        cascade: bool = typer.Option(
            True, "--cascade/--no-cascade", help="Also revoke every descendant (default)."
        ),
        reason: str = typer.Option("", "--reason", help="Why (kept in the store)."),
        store: str | None = StoreOpt,
        keys: str | None = KeysOpt,
        home: str | None = HomeOpt,
    ) -> None:
        """Revoke a token (and, by default, every token delegated from it)."""
        with _broker(store, keys, home) as broker:
            try:
                ids = broker.revoke(token_id, cascade=cascade, reason=reason)
            except LookupError as exc:
                raise _fail(str(exc).strip("'\"")) from None
            for i in ids:
                typer.echo(i)
            typer.echo(f"revoked {len(ids)} token(s)", err=True)

    @token_app.command("jwks")
    def jwks(
        out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file."),
        store: str | None = StoreOpt,
        keys: str | None = KeysOpt,
        home: str | None = HomeOpt,
    ) -> None:
        """Print the public JWKS document (what a verifier elsewhere needs)."""
        with _broker(store, keys, home) as broker:
            text = json.dumps(broker.jwks(), indent=2)
        if out is None:
            typer.echo(text)
        else:
            out.write_text(text + "\n", encoding="utf-8")

    @token_app.command("rotate")
    def rotate(
        grace: int | None = typer.Option(
            None,
            "--grace",
            help="Seconds the old key keeps verifying (default: the maximum token lifetime).",
        ),
        store: str | None = StoreOpt,
        keys: str | None = KeysOpt,
        home: str | None = HomeOpt,
    ) -> None:
        """Start signing with a new key; prints its key id."""
        with _broker(store, keys, home) as broker:
            typer.echo(broker.rotate_keys(grace))

    app.add_typer(token_app, name="token")
