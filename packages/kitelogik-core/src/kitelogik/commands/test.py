"""``kitelogik test``: Rego test_ rules and YAML test cases, like ``opa test``."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command(name="test")
    def test_cmd(
        path: Path = typer.Argument(Path("policies"), help="Policy directory (or a test file)."),
        run: str = typer.Option(
            None, "--run", "-r", help="Only tests whose name matches this regular expression."
        ),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="List every test."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Run the policy tests under PATH on the embedded engine; exit 1 on any failure."""
        import re

        from kitelogik.policy.testing import run_tests

        if run:
            try:
                re.compile(run)
            except re.error as exc:
                typer.echo(f"--run: invalid regular expression: {exc}", err=True)
                raise typer.Exit(2) from None
        result = run_tests(path, run=run)
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "ok": result.ok,
                        "passed": result.passed,
                        "failed": result.failed,
                        "errors": result.errors,
                        "results": [r.__dict__ for r in result.results],
                    },
                    indent=2,
                )
            )
        else:
            for e in result.errors:
                typer.echo(f"error: {e}", err=True)
            for r in result.results:
                if not r.passed:
                    typer.echo(f"FAIL {r.where}: {r.name}: {r.message}")
                elif verbose:
                    typer.echo(f"PASS {r.where}: {r.name}")
            total = len(result.results)
            if total == 0 and not result.errors:
                typer.echo(f"no tests found in {path}")
            else:
                typer.echo("-" * 60)
                typer.echo(
                    f"PASS: {result.passed}/{total}"
                    + (f", FAIL: {result.failed}/{total}" if result.failed else "")
                    + (f", ERRORS: {len(result.errors)}" if result.errors else "")
                )
        if not result.ok:
            raise typer.Exit(1)
