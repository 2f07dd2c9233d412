"""The `hotline` command."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hotline import __version__
from hotline.cli_tickets import drafts_app
from hotline.settings import ConfigError, Settings, load_settings

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="12345 hotline backend",
)
db_app = typer.Typer(no_args_is_help=True, help="database schema")
app.add_typer(db_app, name="db")
# Sub-commands of the domain areas register below, one line each (hotline/cli_<area>.py).
app.add_typer(__import__("hotline.cli_pbx").cli_pbx.app, name="ami")
app.add_typer(__import__("hotline.cli_ivr").cli_ivr.app, name="ivr")
app.add_typer(__import__("hotline.cli_sim").cli_sim.app, name="sim")
app.add_typer(drafts_app, name="drafts")
app.add_typer(__import__("hotline.cli_users").cli_users.app, name="users")
app.add_typer(__import__("hotline.cli_units").cli_units.app, name="units")
app.add_typer(__import__("hotline.cli_intake").cli_intake.app, name="intake")
app.add_typer(__import__("hotline.cli_asr").cli_asr.app, name="asr")
app.command("asr-worker")(__import__("hotline.cli_asr").cli_asr.worker)
app.add_typer(__import__("hotline.cli_recordings").cli_recordings.app, name="recordings")
app.add_typer(__import__("hotline.cli_redis").cli_redis.app, name="redis")
app.add_typer(__import__("hotline.cli_reports").cli_reports.app, name="report")

err = Console(stderr=True)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        err.print(f"hotline: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"hotline {__version__}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="API bind address")] = None,
    port: Annotated[int | None, typer.Option(help="API port")] = None,
    api_only: Annotated[
        bool, typer.Option("--api-only", help="run the API, no controllers")
    ] = False,
    controller: Annotated[
        list[str] | None, typer.Option("--controller", help="run only this city's controller")
    ] = None,
) -> None:
    """Run the API and one AMI controller per configured city."""
    from hotline.serve import serve as run

    settings = settings_or_exit()
    _logging()
    names = [c.name for c in settings.cities]
    if controller:
        unknown = [c for c in controller if c not in names]
        if unknown:
            err.print(f"hotline: unknown city {', '.join(unknown)}; configured: {', '.join(names)}")
            raise typer.Exit(2)
    cities = [] if api_only else (controller or names)
    with_api = not controller
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            run(settings, host or settings.api.host, port or settings.api.port, with_api, cities)
        )


@app.command()
def doctor() -> None:
    """Check every AMI endpoint, Redis, the database and its migrations, and the ASR model."""
    from hotline.doctor import run_checks

    settings = settings_or_exit()
    rows = asyncio.run(run_checks(settings))
    table = Table(title="hotline doctor")
    for column in ("check", "target", "result", "detail"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.check, row.target, "OK" if row.ok else "FAIL", row.detail)
    Console(width=160).print(table)
    failed = [r for r in rows if not r.ok]
    for row in failed:  # unwrapped, whatever the table's width did to the detail
        typer.echo(f"FAIL {row.check}: {row.detail}")
    if failed:
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from hotline.db import make_engine, migration_level, upgrade

    settings = settings_or_exit()

    async def go() -> str:
        engine = make_engine(settings.resolved_database_url)
        try:
            await upgrade(engine)
            current, _ = await migration_level(engine)
            return ", ".join(sorted(current))
        finally:
            await engine.dispose()

    level = asyncio.run(go())
    typer.echo(f"database at {level}")


def main() -> None:
    try:
        app()
    except ConfigError as exc:  # settings read lazily by a subcommand
        err.print(f"hotline: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
