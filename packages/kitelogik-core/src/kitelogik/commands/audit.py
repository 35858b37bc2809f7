"""``kitelogik audit verify|export|tail|stats``: check, export and read the audit log."""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

audit_app = typer.Typer(
    help="Verify, export and read the tamper-evident audit log.", no_args_is_help=True
)

DB = typer.Option(None, "--db", help="SQLite audit log (default: the default store).")
DSN = typer.Option(None, "--dsn", help="PostgreSQL DSN of the audit store.")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


def _store(db: Path | None, dsn: str | None) -> Any:
    from kitelogik.audit import open_store

    try:
        return open_store(db, dsn)
    except (FileNotFoundError, ImportError) as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    except Exception as exc:
        typer.secho(f"error: cannot open the audit store: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc


def _parse_time(text: str | None) -> str | None:
    """``90s``/``30m``/``24h``/``7d`` ago, or an ISO date/time (UTC unless it says otherwise)."""
    if not text:
        return None
    from kitelogik.audit.records import format_ts

    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", text.strip())
    if m:
        secs = float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
        return format_ts(time.time_ns() - int(secs * 1e9))
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"not a time: {text!r} (use 24h, 7d or an ISO date)") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return format_ts(int(dt.timestamp() * 1e9))


def _trusted_keys(paths: list[Path] | None, db: Path | None, dsn: str | None) -> list[bytes] | None:
    from kitelogik.audit import default_paths, load_public_key

    if paths:
        return [load_public_key(p) for p in paths]
    key = db.with_name("audit-signing.key") if db and not dsn else default_paths()[1]
    for candidate in (key.with_name(key.name + ".pub"), key):
        if candidate.exists():
            return [load_public_key(candidate)]
    return None


@audit_app.command()
def verify(
    db: Path = DB,
    dsn: str = DSN,
    public_key: list[Path] = typer.Option(
        None,
        "--public-key",
        help="Trusted Ed25519 public key (PEM); repeatable. Default: the key beside the log.",
    ),
    anchor: list[Path] = typer.Option(
        None, "--anchor", help="Exported checkpoints (JSON lines) kept outside; repeatable."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Check every record's hash and link and every signed checkpoint; name the first bad record.
    Exits 1 when the log fails verification."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from kitelogik.audit import load_anchors
    from kitelogik.audit import verify as run_verify

    store = _store(db, dsn)
    keys = _trusted_keys(public_key, db, dsn)
    anchors = []
    for a in anchor or []:
        anchors += load_anchors(a.read_text().splitlines())
    total = store.head()[0]
    err = Console(stderr=True)
    show = progress and total >= 10_000 and not as_json
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not show,
    ) as bar:
        task = bar.add_task("verifying", total=total)
        report = run_verify(
            store,
            public_keys=keys,
            anchors=anchors,
            progress=lambda seq: bar.update(task, completed=seq),
        )
    store.close()
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        out = Console(soft_wrap=True, highlight=False)
        for w in report.warnings:
            out.print(f"[yellow]warning:[/] {w}")
        if report.ok:
            out.print(
                f"[green]OK[/] {report.records} records, chain intact; "
                f"{report.checkpoints} signed checkpoints"
                + (f", {report.anchors} anchors" if report.anchors else "")
                + f"; signed up to record {report.last_signed_seq}"
                + (
                    f" ({report.unsigned_tail} newer records protected by the chain only)"
                    if report.unsigned_tail
                    else ""
                )
            )
            out.print(f"head {report.head}")
        else:
            out.print(
                f"[red bold]FAILED[/] at record {report.first_bad_seq}"
                + (f" (decision {report.first_bad_decision})" if report.first_bad_decision else "")
                + f": {report.problem}"
            )
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command()
def export(
    db: Path = DB,
    dsn: str = DSN,
    fmt: str = typer.Option("jsonl", "--format", "-f", help="jsonl or csv."),
    output: Path = typer.Option(None, "--output", "-o", help="File to write (default stdout)."),
    checkpoints_only: bool = typer.Option(
        False,
        "--checkpoints-only",
        help="Only the signed checkpoints (an anchor to keep "
        "elsewhere; `verify --anchor` checks the log against it).",
    ),
    since: str = typer.Option(None, "--since", help="24h, 7d or an ISO time."),
    until: str = typer.Option(None, "--until"),
) -> None:
    """Export the log with its signed checkpoints."""
    from kitelogik.audit import export as run_export

    if fmt not in ("jsonl", "csv"):
        raise typer.BadParameter("--format must be jsonl or csv")
    store = _store(db, dsn)
    if output is None:
        n = run_export(
            store,
            sys.stdout,
            fmt,
            checkpoints_only=checkpoints_only,
            since=_parse_time(since),
            until=_parse_time(until),
        )
    else:
        with output.open("w", newline="", encoding="utf-8") as f:
            n = run_export(
                store,
                f,
                fmt,
                checkpoints_only=checkpoints_only,
                since=_parse_time(since),
                until=_parse_time(until),
            )
        typer.secho(f"wrote {n} lines to {output}", err=True)
    store.close()


_COLORS = {
    "allow": "green",
    "deny": "red",
    "escalate": "yellow",
    "ran": "green",
    "failed": "red",
    "skipped": "yellow",
}


def _matches(
    row: Any, verdict: str | None, action: str | None, session: str | None, kind: str | None
) -> bool:
    return (
        (verdict is None or row.verdict == verdict)
        and (action is None or row.action == action)
        and (session is None or row.session_id == session)
        and (kind is None or row.kind == kind)
    )


def _line(row: Any) -> str:
    from rich.markup import escape

    data = json.loads(row.body).get("data", {})
    color = _COLORS.get(row.verdict or "", "white")
    detail = ""
    if row.kind == "decision":
        detail = "; ".join(data.get("reasons") or []) or ",".join(data.get("rules") or [])
    elif row.kind == "outcome":
        detail = data.get("error") or ""
    else:
        detail = json.dumps(data, ensure_ascii=False)[:120]
    return (
        f"[dim]{row.seq:>7} {row.ts}[/] {escape(row.kind):<9} "
        f"[{color}]{escape(row.verdict or '-'):<8}[/] {escape(row.action or '-')} "
        f"[dim]{escape(row.session_id or '')}[/] {escape(detail)}"
    )


@audit_app.command()
def tail(
    db: Path = DB,
    dsn: str = DSN,
    n: int = typer.Option(20, "-n", "--lines", help="How many records to show."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new records."),
    verdict: str = typer.Option(
        None, "--verdict", help="allow, deny, escalate (or an outcome: ran, failed, skipped)."
    ),
    action: str = typer.Option(None, "--action"),
    session: str = typer.Option(None, "--session"),
    kind: str = typer.Option(None, "--kind", help="decision, outcome or an event kind."),
    interval: float = typer.Option(1.0, "--interval", help="Seconds between polls (--follow)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON record per line."),
    max_polls: int = typer.Option(0, "--max-polls", hidden=True),
    max_records: int = typer.Option(0, "--max-records", hidden=True),
) -> None:
    """Show the latest records, optionally filtered; --follow keeps watching."""
    from rich.console import Console

    out = Console(highlight=False, soft_wrap=True)
    store = _store(db, dsn)
    head = store.head()[0]
    filtered = any(x is not None for x in (verdict, action, session, kind))
    start = 1 if filtered else max(1, head - n + 1)
    last: list[Any] = []
    for row in store.rows(start=start):
        if _matches(row, verdict, action, session, kind):
            last.append(row)
            if len(last) > n:
                del last[0]
        head = max(head, row.seq)

    emitted = [0]

    def emit(row: Any) -> None:
        emitted[0] += 1
        if as_json:
            typer.echo(json.dumps(row.to_dict(), ensure_ascii=False))
        else:
            out.print(_line(row))

    for row in last:
        emit(row)
    polls = 0
    try:
        while follow:
            time.sleep(interval)
            for row in store.rows(start=head + 1):
                head = row.seq
                if _matches(row, verdict, action, session, kind):
                    emit(row)
            polls += 1
            if (max_polls and polls >= max_polls) or (max_records and emitted[0] >= max_records):
                break
    except KeyboardInterrupt:
        pass
    finally:
        store.close()


def _bars(title: str, counts: Counter[str], top: int) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column(title.split(" ")[-1].capitalize(), overflow="fold")
    table.add_column("Count", justify="right")
    table.add_column("", min_width=10)
    items = counts.most_common(top)
    peak = max((c for _, c in items), default=1)
    for name, c in items:
        bar = Text("█" * max(1, round(30 * c / peak)), style=_COLORS.get(name, "cyan"))
        table.add_row(name, str(c), bar)
    return table


@audit_app.command()
def stats(
    db: Path = DB,
    dsn: str = DSN,
    since: str = typer.Option(None, "--since", help="24h, 7d or an ISO time (default: all)."),
    until: str = typer.Option(None, "--until"),
    top: int = typer.Option(10, "--top", help="Rows per table."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Counts by verdict, action and rule over a time range (tables and bar charts)."""
    from rich.console import Console

    store = _store(db, dsn)
    verdicts: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    events: Counter[str] = Counter()
    first = last_ts = None
    for row in store.rows(since=_parse_time(since), until=_parse_time(until)):
        first = first or row.ts
        last_ts = row.ts
        if row.kind == "decision":
            verdicts[row.verdict or "?"] += 1
            actions[row.action or "?"] += 1
            for r in json.loads(row.body)["data"].get("rules") or []:
                rules[r] += 1
        elif row.kind == "outcome":
            outcomes[row.verdict or "?"] += 1
        else:
            events[row.kind] += 1
    store.close()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "from": first,
                    "to": last_ts,
                    "verdicts": verdicts,
                    "actions": actions,
                    "rules": rules,
                    "outcomes": outcomes,
                    "events": events,
                },
                indent=2,
            )
        )
        return
    out = Console(highlight=False)
    total = sum(verdicts.values())
    out.print(f"[bold]{total}[/] decisions" + (f" from {first} to {last_ts}" if first else ""))
    if not total and not events:
        return
    out.print(_bars("Decisions by verdict", verdicts, top))
    out.print(_bars("Decisions by action", actions, top))
    out.print(_bars("Decisions by rule", rules, top))
    if outcomes:
        out.print(_bars("Outcomes by outcome", outcomes, top))
    if events:
        out.print(_bars("Other events by kind", events, top))
