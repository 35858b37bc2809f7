"""``kitelogik serve``: the approvals service (REST API, OpenAPI docs and reviewers' page)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="Address to bind (loopback by default)."),
        port: int = typer.Option(8765, help="Port."),
        store: str = typer.Option(
            None,
            "--store",
            help="Approval store: SQLite path or postgresql:// DSN (default $KITELOGIK_APPROVALS).",
        ),
        quorum: int = typer.Option(1, help="Distinct approvals needed per request."),
        credentials: bool = typer.Option(
            False,
            "--credentials",
            help="Also accept signed credentials from the credential broker (scope "
            "hitl:approve) as approver identities.",
        ),
        allow_remote: bool = typer.Option(
            False,
            "--allow-remote",
            help="Allow binding a non-loopback address (put TLS "
            "in front: session cookies are then marked Secure).",
        ),
    ) -> None:
        """Serve the approvals API and page. Reviewers sign in with an approver token
        (`kitelogik hitl token create NAME`)."""
        try:
            from kitelogik.server.app import create_app
            from kitelogik.server.runner import is_loopback
            from kitelogik.server.runner import serve as run
        except ImportError as exc:
            typer.secho(
                f"kitelogik serve needs the server extra: pip install "
                f"'kitelogik-core[server]' ({exc})",
                fg=typer.colors.RED,
                err=True,
            )
            raise typer.Exit(2) from None
        from kitelogik.anchor.hitl import ApprovalQueue, open_store

        remote = not is_loopback(host)
        if remote and not allow_remote:
            typer.secho(
                f"refusing to bind {host}: not a loopback address (pass --allow-remote)",
                fg=typer.colors.RED,
                err=True,
            )
            raise typer.Exit(2)
        queue = ApprovalQueue(open_store(store), quorum=quorum)
        auth = None
        if credentials:
            from kitelogik.anchor.credentials import CredentialBroker
            from kitelogik.anchor.hitl import (
                ChainAuthenticator,
                CredentialAuthenticator,
                TokenAuthenticator,
            )

            broker = CredentialBroker()
            auth = ChainAuthenticator(
                TokenAuthenticator(queue.store), CredentialAuthenticator(broker.verify)
            )
        typer.echo(f"Kite Logik approvals on http://{host}:{port}/  (API docs: /docs)")
        run(create_app(queue, auth, secure_cookies=remote), host=host, port=port)
