"""``kitelogik fmt``: format policy sources in place (``--check`` to only report)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def fmt(
        paths: list[Path] = typer.Argument(
            None, help="Files or directories (default: ./policies)."
        ),
        check: bool = typer.Option(
            False, "--check", help="Write nothing; exit 1 if a file would change."
        ),
    ) -> None:
        """Format Rego and YAML policy files; regenerate compiled modules from their YAML."""
        from kitelogik.policy.compiler import is_policy_file
        from kitelogik.policy.fmt import format_path
        from kitelogik.policy.project import _walk
        from kitelogik.policy.yamlload import PolicyError

        changed: list[Path] = []
        failed = False
        for root in paths or [Path("policies")]:
            if not root.exists():
                typer.echo(f"{root}: no such file or directory", err=True)
                failed = True
                continue
            files = (
                [root]
                if root.is_file()
                else [f for f in _walk(root) if f.suffix == ".rego" or is_policy_file(f)]
            )
            for f in files:
                try:
                    res = format_path(f)
                except PolicyError as exc:
                    typer.echo(str(exc), err=True)
                    failed = True
                    continue
                except (OSError, UnicodeDecodeError) as exc:
                    typer.echo(f"{f}: cannot read: {exc}", err=True)
                    failed = True
                    continue
                if res is None or res[0] == res[1]:
                    continue
                changed.append(f)
                if not check:
                    f.write_text(res[1], encoding="utf-8")
        for f in changed:
            typer.echo(f"{'would reformat' if check else 'formatted'} {f}")
        if failed or (check and changed):
            raise typer.Exit(1)
