"""``kitelogik validate``: syntax, schema, unsupported builtins, dead rules and conflicts."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def validate(
        path: Path = typer.Argument(Path("policies"), help="Policy directory or file."),
        strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Check a policy directory; exit 1 on errors (or on warnings with --strict)."""
        from kitelogik.policy.project import validate_path

        v = validate_path(path)
        bad = bool(v.errors) or (strict and bool(v.warnings))
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "ok": not bad,
                        "errors": [f.__dict__ for f in v.errors],
                        "warnings": [f.__dict__ for f in v.warnings],
                    },
                    indent=2,
                )
            )
        else:
            for f in v.findings:
                typer.echo(str(f), err=True)
            rules = sum(len(c.policy.rules) for c in v.compiled)
            status = "FAIL" if bad else "OK"
            typer.echo(
                f"{status}: {path}: {len(v.compiled)} YAML policies, {rules} rules, "
                f"{len(v.errors)} errors, {len(v.warnings)} warnings"
            )
        if bad:
            raise typer.Exit(1)
