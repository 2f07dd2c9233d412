"""`hotline recordings ...`: retention of call recordings."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console

from hotline.settings import ConfigError, load_settings

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="call recordings")
err = Console(stderr=True)


@app.command("prune")
def prune(
    days: Annotated[
        int | None,
        typer.Option(min=1, help="keep this many days (default: recordings_retention_days)"),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report, delete nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Delete recordings older than N days, except QA-held ones and calls with open tickets."""
    from hotline.db import database, session_factory
    from recording.retention import PruneReport
    from recording.retention import prune as run
    from tickets.service import calls_with_open_tickets

    try:
        settings = load_settings()
    except ConfigError as exc:
        err.print(f"hotline: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    keep = days or settings.recordings_retention_days

    async def go() -> PruneReport:
        async with database(settings) as engine:
            return await run(
                session_factory(engine),
                days=keep,
                now=datetime.now(UTC),
                held=calls_with_open_tickets,
                dry_run=dry_run,
            )

    report = asyncio.run(go())
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "cutoff": report.cutoff.isoformat(),
                    "dry_run": report.dry_run,
                    "deleted": report.deleted,
                    "missing": report.missing,
                    "kept_qa": report.kept_qa,
                    "kept_open_ticket": report.kept_ticket,
                    "failed": [{"path": p, "error": e} for p, e in report.failed],
                    "freed_bytes": report.freed_bytes,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        verb = "would delete" if dry_run else "deleted"
        typer.echo(
            f"recordings older than {keep} days (before {report.cutoff:%Y-%m-%d %H:%M} UTC): "
            f"{verb} {len(report.deleted)} file(s), {report.freed_bytes / 1e6:.1f} MB; "
            f"kept {report.kept_qa} held by QA, {report.kept_ticket} with an open ticket; "
            f"{len(report.missing)} already gone"
        )
        for path, error in report.failed:
            err.print(f"hotline: cannot delete {path}: {error}", markup=False, highlight=False)
    if report.failed:
        raise typer.Exit(1)
