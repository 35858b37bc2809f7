# ruff: noqa: E501
"""``kitelogik compile``: YAML policies to Rego modules (written beside the source or to --out)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command(name="compile")
    def compile_cmd(
        paths: list[Path] = typer.Argument(
            None, help="Policy files or directories (default: ./policies)."
        ),
        out: Path = typer.Option(
            None,
            "--out",
            "-o",
            help="Write compiled modules under this directory instead of beside the sources.",
        ),
        check: bool = typer.Option(
            False,
            "--check",
            help="Write nothing; exit 1 if a compiled file is missing or out of date.",
        ),
        stdout: bool = typer.Option(
            False, "--stdout", help="Print the compiled Rego instead of writing files."
        ),
    ) -> None:
        """Compile YAML policies (policy.yaml, *.policy.yaml) to project-tier Rego."""
        from kitelogik.policy.compiler import compile_file, compiled_path
        from kitelogik.policy.project import iter_policy_files
        from kitelogik.policy.yamlload import PolicyError

        targets = paths or [Path("policies")]
        missing = [p for p in targets if not p.exists()]
        for p in missing:
            typer.echo(f"{p}: no such file or directory", err=True)
        files = iter_policy_files(targets)
        if not files and not missing:
            typer.echo(
                f"no YAML policy files (policy.yaml, *.policy.yaml) in {', '.join(map(str, targets))}",
                err=True,
            )
            raise typer.Exit(1)
        failed = bool(missing)
        stale = []
        for f in files:
            try:
                c = compile_file(f, f.name)
            except PolicyError as exc:
                typer.echo(str(exc), err=True)
                failed = True
                continue
            for loc, msg in c.policy.warnings:
                typer.echo(f"{loc}: warning: {msg}", err=True)
            if stdout:
                typer.echo(c.rego, nl=False)
                continue
            dest = compiled_path(f)
            if out is not None:
                base = next(
                    (t for t in targets if t.is_dir() and (t == f or t in f.parents)), f.parent
                )
                dest = out / compiled_path(f).relative_to(base)
            if check:
                if not dest.exists() or dest.read_text(encoding="utf-8") != c.rego:
                    stale.append(dest)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".tmp")
            tmp.write_text(c.rego, encoding="utf-8")
            tmp.replace(dest)
            typer.echo(f"{f} -> {dest} ({len(c.policy.rules)} rules)")
        for s in stale:
            typer.echo(f"{s}: missing or out of date (run `kitelogik compile`)", err=True)
        if failed or stale:
            raise typer.Exit(1)
