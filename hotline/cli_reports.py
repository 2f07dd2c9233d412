"""`hotline report ...`: the weekly report as a document, and the job that writes it weekly."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="reports (周报)")
err = Console(stderr=True)
log = logging.getLogger("hotline.reports")


def _fail(message: str) -> typer.Exit:
    err.print(f"hotline: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _tz() -> str:
    from hotline.cli import settings_or_exit

    settings = settings_or_exit()
    return settings.cities[0].timezone if settings.cities else "Asia/Shanghai"


@app.command("weekly")
def weekly(
    week: Annotated[str, typer.Option("--week", help="ISO week, e.g. 2026-W48")],
    fmt: Annotated[str, typer.Option("--format", help="html, pdf or xlsx")] = "html",
    out: Annotated[
        Path | None, typer.Option("--out", help="file to write (default: weekly-<week>.<format>)")
    ] = None,
) -> None:
    """Write the weekly report (周报) of one week as a document."""
    from hotline.cli import settings_or_exit
    from reports.document import FORMATS, RenderError, write
    from reports.period import BadWeek, week_of

    if fmt not in FORMATS:
        raise _fail(f"--format {fmt!r}: one of {', '.join(FORMATS)}")
    try:
        period = week_of(week, _tz())
    except BadWeek as exc:
        raise _fail(str(exc)) from None
    # The analytics (scikit-learn, jieba) load only once the arguments are known good.
    from hotline.db import database, session_factory
    from reports.weekly import build_weekly, report_json

    target = out or Path(f"weekly-{period.label}.{fmt}")
    settings = settings_or_exit()

    async def go() -> dict[str, object]:
        async with database(settings, read=True) as engine, session_factory(engine)() as session:
            return report_json(await build_weekly(session, period))

    data = asyncio.run(go())
    try:
        write(data, fmt, target)
    except RenderError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{target} ({target.stat().st_size} bytes)")


@app.command("schedule")
def schedule(
    once: Annotated[
        bool, typer.Option("--once", help="one check, then exit (cron, timers)")
    ] = False,
    interval: Annotated[float, typer.Option(min=1, help="seconds between checks")] = 3600.0,
) -> None:
    """Write last week's report (html, pdf, xlsx) into data_dir/reports when it is missing;
    checks every --interval seconds until SIGTERM or Ctrl-C."""
    from hotline.cli import settings_or_exit
    from hotline.db import database, session_factory
    from reports.archive import generate_due
    from reports.document import RenderError

    settings = settings_or_exit()
    directory = settings.data_dir / "reports"
    tz = _tz()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with database(settings, read=True) as engine:
            sessions = session_factory(engine)
            while True:
                try:
                    written = await generate_due(sessions, directory, datetime.now(UTC), tz)
                except RenderError as exc:  # kept running: the next check tries again
                    log.error("weekly report not written: %s", exc)
                    written = []
                for path in written:
                    log.info("weekly report written: %s", path)
                if once:
                    return
                try:
                    await asyncio.wait_for(stop.wait(), interval)
                    return
                except TimeoutError:
                    pass

    asyncio.run(go())
