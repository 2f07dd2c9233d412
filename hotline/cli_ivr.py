"""`hotline ivr ...`: compile the menus and the seat list into asterisk_conf/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hotline.settings import Env
from ivr.compile import MENUS_DIR
from ivr.generate import DEV_SECRET, render_all, stale, write_all
from ivr.menu import MenuError
from ivr.seats import SEATS_FILE

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="IVR menus")
err = Console(stderr=True)


@app.command("compile")
def compile_(
    check: Annotated[
        bool, typer.Option("--check", help="only verify the committed files are up to date")
    ] = False,
    menus: Annotated[Path, typer.Option(help="directory of menu YAML files")] = MENUS_DIR,
    seats: Annotated[Path, typer.Option(help="seat list YAML")] = SEATS_FILE,
    secret: Annotated[
        str,
        typer.Option(envvar="HOTLINE_SEAT_SECRET", help="secret the seat passwords derive from"),
    ] = DEV_SECRET,
    out: Annotated[
        Path | None, typer.Option(help="write there instead of asterisk_conf/ (deployments)")
    ] = None,
    env: Annotated[Env, typer.Option(envvar="HOTLINE_ENV", help="deployment mode")] = (
        Env.development
    ),
) -> None:
    """Generate extensions_ivr.conf, pjsip_seats.conf and queues_seats.conf."""
    try:
        rendered = render_all(menus, seats, secret, out, production=env is Env.production)
    except MenuError as exc:
        err.print(f"hotline: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if check:
        old = stale(rendered)
        for path in old:
            err.print(f"hotline: {path} is stale; run `hotline ivr compile`", markup=False)
        raise typer.Exit(1 if old else 0)
    for path in write_all(rendered):
        typer.echo(f"wrote {path}")
