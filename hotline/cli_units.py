"""`hotline units ...`: the unit directory (承办单位) that tickets are dispatched to."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="unit directory")
err = Console(stderr=True)


@app.command("seed")
def seed(
    file: Annotated[
        Path | None, typer.Option(help="unit directory YAML (default: the sample directory)")
    ] = None,
) -> None:
    """Insert or update the units of a directory file, by name (levels and parents)."""
    from hotline.cli import settings_or_exit
    from hotline.db import make_engine, session_factory
    from tickets.units import UNITS_FILE, UnitDirectoryError, load_units, seed_units

    try:
        entries = load_units(file or UNITS_FILE)
    except UnitDirectoryError as exc:
        err.print(f"hotline: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    settings = settings_or_exit()

    async def go() -> int:
        engine = make_engine(settings.resolved_database_url)
        try:
            async with session_factory(engine)() as session:
                return len(await seed_units(session, entries))
        finally:
            await engine.dispose()

    typer.echo(f"{asyncio.run(go())} units in the directory")


@app.command("list")
def list_units() -> None:
    """The directory as stored: id, level, name, parent."""
    from hotline.cli import settings_or_exit
    from hotline.db import make_engine, session_factory
    from tickets.units import all_units

    settings = settings_or_exit()

    async def go() -> None:
        engine = make_engine(settings.resolved_database_url)
        try:
            async with session_factory(engine)() as session:
                rows = await all_units(session)
        finally:
            await engine.dispose()
        names = {u.id: u.name for u in rows}
        for u in rows:
            parent = names.get(u.parent_id, "") if u.parent_id else ""
            typer.echo(f"{u.id}\t{u.level}\t{u.name}\t{parent}")

    asyncio.run(go())
