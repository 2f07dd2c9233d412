"""`hotline report ...`: the weekly report as a document, and the job that writes it weekly."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from hotline.settings import Settings

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


def _read_target(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    if settings.database_read_url:
        name, url = "the read replica (HOTLINE_DATABASE_READ_URL", settings.database_read_url
    else:
        name, url = "the database (HOTLINE_DATABASE_URL", settings.resolved_database_url
    return f"{name} {make_url(url).render_as_string(hide_password=True)})"


def _reason(exc: BaseException) -> str:
    # SQLAlchemy's text carries the statement and a link; the driver's own first line is enough.
    original = getattr(exc, "orig", None) or exc
    return str(original).splitlines()[0] if str(original) else type(original).__name__


@app.command("weekly")
def weekly(
    week: Annotated[str, typer.Option("--week", help="ISO week, e.g. 2026-W48")],
    fmt: Annotated[str, typer.Option("--format", help="html, pdf or xlsx")] = "html",
    out: Annotated[
        Path | None, typer.Option("--out", help="file to write (default: weekly-<week>.<format>)")
    ] = None,
) -> None:
    """Write the weekly report (周报) of one week as a document."""
    from sqlalchemy.exc import InterfaceError, OperationalError

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

    try:
        data = asyncio.run(go())
    except (OperationalError, InterfaceError, OSError) as exc:
        # Unreachable (refused, wrong host, server down): say which database, not a traceback.
        raise _fail(f"cannot read {_read_target(settings)}: {_reason(exc)}") from None
    try:
        write(data, fmt, target)
    except RenderError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{target} ({target.stat().st_size} bytes)")


async def _replica_lag(
    settings: Settings, primary: AsyncEngine, replica: AsyncEngine, wait_s: float
) -> str | None:
    """Why the weekly job must not read the replica now, or None."""
    from sqlalchemy.exc import SQLAlchemyError

    from hotline.db import replica_behind

    # A report is written once and kept: from a replica that has not replayed the week's last
    # calls its figures would stay short for good. A primary that cannot be asked is as good
    # as a lag: nothing is written from what cannot be checked.
    if not settings.database_read_url:
        return None
    try:
        return await replica_behind(primary, replica, wait_s)
    except (SQLAlchemyError, OSError) as exc:
        return f"cannot compare the read replica with the primary: {_reason(exc)}"


async def _write_due(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], directory: Path, tz: str
) -> str | None:
    """Last week's report where missing; why not, when it could not be written."""
    from sqlalchemy.exc import SQLAlchemyError

    from reports.archive import generate_due
    from reports.document import RenderError

    try:
        written = await generate_due(sessions, directory, datetime.now(UTC), tz)
    except RenderError as exc:
        return str(exc)
    except (SQLAlchemyError, OSError) as exc:
        # A database down or restarting, a query cancelled by a replica's replay: the job
        # keeps running and the next check tries again.
        return f"cannot read {_read_target(settings)}: {_reason(exc)}"
    for path in written:
        log.info("weekly report written: %s", path)
    return None


@app.command("schedule")
def schedule(
    once: Annotated[
        bool, typer.Option("--once", help="one check, then exit (cron, timers)")
    ] = False,
    interval: Annotated[float, typer.Option(min=1, help="seconds between checks")] = 3600.0,
    replica_wait: Annotated[
        float,
        typer.Option(
            min=0, help="seconds a check waits for the read replica to catch up with the primary"
        ),
    ] = 60.0,
) -> None:
    """Write last week's report (html, pdf, xlsx) into data_dir/reports when it is missing;
    checks every --interval seconds until SIGTERM or Ctrl-C. With a read replica, a check
    writes only once the replica has replayed what the primary had. A check that writes
    nothing due (a lag, a database down, a render error) logs why and the next one tries
    again; --once then exits 1."""
    from hotline.cli import settings_or_exit
    from hotline.db import database, session_factory

    settings = settings_or_exit()
    directory = settings.data_dir / "reports"
    tz = _tz()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def go() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with database(settings, read=True) as engine, database(settings) as primary:
            while True:
                failed = await _replica_lag(settings, primary, engine, replica_wait)
                if failed is None:
                    failed = await _write_due(settings, session_factory(engine), directory, tz)
                if failed is not None:
                    log.error("weekly report not written yet: %s", failed)
                if once:
                    return 1 if failed is not None else 0
                try:
                    await asyncio.wait_for(stop.wait(), interval)
                    return 0
                except TimeoutError:
                    pass

    if asyncio.run(go()):
        raise typer.Exit(1)
