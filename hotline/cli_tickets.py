"""`hotline drafts ...`: ticket drafts from transcripts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

drafts_app = typer.Typer(
    no_args_is_help=True, pretty_exceptions_enable=False, help="ticket drafts from transcripts"
)
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"hotline: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


@drafts_app.command("from-text")
def from_text(
    file: Annotated[Path, typer.Argument(help="transcript: one 'caller:' or 'seat:' line each")],
    as_json: Annotated[bool, typer.Option("--json", help="print the draft as JSON")] = False,
    departments: Annotated[
        Path | None, typer.Option(help="department directory YAML (default: the seed file)")
    ] = None,
    holidays: Annotated[
        Path | None,
        typer.Option(help="holiday file for years chinese-calendar lacks (HOTLINE_HOLIDAYS_FILE)"),
    ] = None,
) -> None:
    """Build a ticket draft from a plain-text transcript."""
    from asr.draft import DirectoryEntry, DraftBuilder, TranscriptError, parse_transcript
    from hotline.settings import ConfigError, load_settings
    from tickets.departments import SEED_FILE, DirectoryError, load_departments
    from tickets.workdays import CalendarError, WorkCalendar, due_at

    if holidays is None:
        try:
            holidays = load_settings().holidays_file
        except ConfigError as exc:
            raise _fail(str(exc)) from None
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"cannot read transcript {file}: {exc}") from None
    try:
        transcript = parse_transcript(text, str(file))
        directory = [
            DirectoryEntry(d.name, d.number, d.duty_hours, d.categories)
            for d in load_departments(departments or SEED_FILE)
        ]
        calendar = WorkCalendar.from_file(holidays)
        draft = DraftBuilder().build(
            transcript,
            directory,
            now=datetime.now(UTC),
            deadline=lambda at, days: due_at(at, days, calendar),
        )
    except (TranscriptError, DirectoryError, CalendarError, ValueError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(json.loads(draft.to_json()), ensure_ascii=False, indent=2))
        return
    for label, value in draft.labelled():
        typer.echo(f"{label}：{value}")
