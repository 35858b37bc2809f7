"""``kitelogik eval`` and ``kitelogik explain``: evaluate an input document and show why."""

from __future__ import annotations

import json
from pathlib import Path

import typer

_STYLE = {"allow": "green", "deny": "red", "escalate": "yellow", "not_allowed": "magenta"}


def _run(
    input_path: str, policy_dir: Path | None, partial: bool, as_json: bool, detail: bool
) -> None:
    from rich.console import Console
    from rich.table import Table

    from kitelogik.policy.project import evaluate, load_input, open_engine

    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    try:
        doc = load_input(input_path, partial=partial)
        eng = open_engine(policy_dir)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    ex = evaluate(doc, eng, explain=True)
    if as_json:
        typer.echo(json.dumps(ex.to_json(), indent=2, sort_keys=True))
    else:
        color = _STYLE.get(ex.verdict, "white")
        console.print(f"verdict: [bold {color}]{ex.verdict}[/]")
        if ex.error:
            console.print(f"[red]{ex.error}[/]")
        d = ex.decision if isinstance(ex.decision, dict) else {}
        if d:
            console.print(f"risk tier: {d.get('risk_tier')}")
            for r in d.get("reasons", []):
                console.print(f"  - {r}", markup=False)
        table = Table(title="rules that fired" if detail else None, show_lines=detail)
        table.add_column("effect")
        table.add_column("rule")
        table.add_column("reason")
        if detail:
            table.add_column("source")
            table.add_column("conditions")
        for f in ex.fired:
            row = [f"[{_STYLE.get(f.kind, 'white')}]{f.kind}[/]", f.rule, f.reason]
            if detail:
                row += [f.source, f.conditions]
            table.add_row(*[row[0], *[_esc(x) for x in row[1:]]])
        if ex.fired:
            console.print(table)
        if detail:
            console.print(
                "[dim]deny wins over everything; escalate needs something to allow; "
                "nothing allowing means deny (deny by default).[/]"
            )
        console.print(f"[dim]policy dirs: {', '.join(eng.dirs)} (version {eng.policy.version})[/]")
    if ex.verdict != "allow" and ex.error:
        raise typer.Exit(1)


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def register(app: typer.Typer) -> None:
    @app.command(name="eval")
    def eval_cmd(
        input_path: str = typer.Argument(
            ..., metavar="INPUT", help="Input document (JSON or YAML file, - for stdin)."
        ),
        policy_dir: Path = typer.Option(
            None, "--policy-dir", "-d", help="Project policy directory (default ./policies)."
        ),
        partial: bool = typer.Option(
            False, "--partial", help="Merge INPUT over the default test input (as YAML tests do)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Evaluate INPUT and show the verdict and the rules that fired."""
        _run(input_path, policy_dir, partial, as_json, detail=False)

    @app.command()
    def explain(
        input_path: str = typer.Argument(
            ..., metavar="INPUT", help="Input document (JSON or YAML file, - for stdin)."
        ),
        policy_dir: Path = typer.Option(
            None, "--policy-dir", "-d", help="Project policy directory (default ./policies)."
        ),
        partial: bool = typer.Option(
            False, "--partial", help="Merge INPUT over the default test input (as YAML tests do)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Explain a decision: every rule that fired, its reason, source and conditions."""
        _run(input_path, policy_dir, partial, as_json, detail=True)
