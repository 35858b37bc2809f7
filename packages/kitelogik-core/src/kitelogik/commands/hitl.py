"""``kitelogik hitl``: review human approvals from the terminal.

``list`` / ``show`` read the approval store; ``approve`` / ``deny`` act as the reviewer whose
approver token is given (``--token`` or ``$KITELOGIK_APPROVER_TOKEN``): the identity comes from
the token, there is no option to name yourself. ``token create|revoke|list`` manage tokens.
The store is ``--store`` (a SQLite path or a ``postgresql://`` DSN), else
``$KITELOGIK_APPROVALS``, else ``$KITELOGIK_HOME/approvals.db``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import typer

STORE_HELP = "Approval store: a SQLite path or postgresql:// DSN (default $KITELOGIK_APPROVALS)."


def _queue(store: str | None) -> Any:
    from kitelogik.anchor.hitl import ApprovalQueue, open_store

    return ApprovalQueue(open_store(store))


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def register(app: typer.Typer) -> None:
    hitl = typer.Typer(
        help="Human approvals: list, show, approve, deny; approver tokens.", no_args_is_help=True
    )
    tokens = typer.Typer(
        help="Approver API tokens (stored hashed in the approval store).", no_args_is_help=True
    )
    hitl.add_typer(tokens, name="token")
    app.add_typer(hitl, name="hitl")

    @hitl.command("list")
    def list_(
        status: str = typer.Option("pending", help="pending|approved|denied|expired|all"),
        store: str = typer.Option(None, "--store", help=STORE_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """List approval requests (pending by default)."""
        from rich.console import Console
        from rich.table import Table

        if status not in ("pending", "approved", "denied", "expired", "all"):
            raise _fail(f"unknown status {status!r}", 2)
        found = _queue(store).list(None if status == "all" else status)  # type: ignore[arg-type]
        now = time.time()
        if as_json:
            typer.echo(
                json.dumps(
                    [r.to_dict() | {"status": r.effective_status(now)} for r in found], indent=2
                )
            )
            return
        table = Table(title=f"approval requests ({status})")
        for col in ("id", "action", "risk tier", "session", "status", "approvals", "expires in"):
            table.add_column(col)
        for r in found:
            table.add_row(
                r.id,
                r.action,
                r.risk_tier,
                r.session_id,
                r.effective_status(now),
                f"{len(r.approvers)}/{r.quorum}",
                f"{max(0, r.expires_at - now):.0f}s",
            )
        Console().print(table)

    @hitl.command()
    def show(
        request_id: str,
        store: str = typer.Option(None, "--store", help=STORE_HELP),
    ) -> None:
        """Show one request: action, exact arguments, risk tier, reasons, session, digest."""
        from kitelogik.anchor.hitl import UnknownRequest

        try:
            req = _queue(store).get(request_id)
        except UnknownRequest as exc:
            raise _fail(str(exc)) from None
        d = req.to_dict() | {"status": req.effective_status(time.time())}
        typer.echo(json.dumps(d, indent=2, sort_keys=True))

    def _decide(
        kind: str,
        request_id: str,
        reason: str,
        token: str | None,
        store: str | None,
        digest: str | None,
    ) -> None:
        from kitelogik.anchor.hitl import ApprovalError, TokenAuthenticator

        queue = _queue(store)
        try:
            who = TokenAuthenticator(queue.store).authenticate(token)
            fn = queue.approve if kind == "approve" else queue.deny
            req = fn(request_id, who, reason, digest)
        except ApprovalError as exc:
            raise _fail(f"refused: {exc}") from None
        typer.echo(
            f"{req.id}: {kind} recorded for {who.name}; status {req.status} "
            f"({len(req.approvers)}/{req.quorum} approvals)"
        )

    token_opt = typer.Option(
        None,
        "--token",
        envvar="KITELOGIK_APPROVER_TOKEN",
        help="Your approver token (or $KITELOGIK_APPROVER_TOKEN).",
    )

    @hitl.command()
    def approve(
        request_id: str,
        reason: str = typer.Option("", "--reason", "-r", help="Why (audited)."),
        digest: str = typer.Option(
            None, "--digest", help="The digest you reviewed (from `hitl show`); must match."
        ),
        token: str = token_opt,
        store: str = typer.Option(None, "--store", help=STORE_HELP),
    ) -> None:
        """Approve a pending request as the token's reviewer."""
        _decide("approve", request_id, reason, token, store, digest)

    @hitl.command()
    def deny(
        request_id: str,
        reason: str = typer.Option("", "--reason", "-r", help="Why (audited)."),
        token: str = token_opt,
        store: str = typer.Option(None, "--store", help=STORE_HELP),
    ) -> None:
        """Deny a pending request as the token's reviewer."""
        _decide("deny", request_id, reason, token, store, None)

    @tokens.command("create")
    def token_create(
        name: str,
        role: list[str] = typer.Option(["approver"], "--role", help="approver and/or viewer"),
        store: str = typer.Option(None, "--store", help=STORE_HELP),
    ) -> None:
        """Create an API token for reviewer NAME; prints it once (only its hash is stored)."""
        from kitelogik.anchor.hitl import TokenAuthenticator

        try:
            secret = TokenAuthenticator(_queue(store).store).create(name, role)
        except ValueError as exc:
            raise _fail(str(exc), 2) from None
        typer.echo(secret)

    @tokens.command("revoke")
    def token_revoke(
        name: str, store: str = typer.Option(None, "--store", help=STORE_HELP)
    ) -> None:
        """Revoke every token of reviewer NAME (their open page sessions end too)."""
        from kitelogik.anchor.hitl import TokenAuthenticator

        count = TokenAuthenticator(_queue(store).store).revoke(name)
        typer.echo(f"revoked {count} token(s) of {name}")

    @tokens.command("list")
    def token_list(store: str = typer.Option(None, "--store", help=STORE_HELP)) -> None:
        """List reviewers' tokens (names and roles; never the secrets)."""
        for t in _queue(store).store.list_tokens():
            state = "revoked" if t["revoked_at"] else "active"
            typer.echo(f"{t['name']}\t{','.join(t['roles'])}\t{state}")
