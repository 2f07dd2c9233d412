"""`hotline intake ...`: 留言 batches from other platforms into tickets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="留言 imports")
err = Console(stderr=True)


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="a CSV, JSON or XLSX file of 留言")],
    platform: Annotated[str, typer.Option(help="the platform's name, e.g. renmin")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, json or xlsx (default: the suffix)")
    ] = None,
) -> None:
    """Each new message becomes a 受理 ticket; a message id seen before is skipped; each bad
    row is printed with its line and reason (exit 1 if there was one)."""
    from hotline.cli import settings_or_exit
    from hotline.db import make_engine, session_factory
    from intake.batch import BatchError, Report, import_batch
    from intake.service import Drafter
    from tickets.workdays import WorkCalendar

    kind = (fmt or file.suffix.lstrip(".")).lower()
    try:
        data = file.read_bytes()
    except OSError as exc:
        err.print(f"hotline: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    settings = settings_or_exit()

    async def go() -> Report:
        engine = make_engine(settings.resolved_database_url)
        try:
            async with session_factory(engine)() as session:
                calendar = WorkCalendar.from_file(settings.holidays_file)
                return await import_batch(session, Drafter(), platform, data, kind, calendar)
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(go())
    except BatchError as exc:
        err.print(f"hotline: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    for line, message_id, ticket_id in report.duplicates:
        typer.echo(f"line {line}: {message_id} already imported (ticket {ticket_id})")
    for bad in report.bad:
        err.print(f"line {bad.line}: {bad.reason}", markup=False, highlight=False)
    typer.echo(
        f"{len(report.created)} tickets created, {len(report.duplicates)} duplicates, "
        f"{len(report.bad)} bad rows"
    )
    if report.bad:
        raise typer.Exit(1)
