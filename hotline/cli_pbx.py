"""`hotline ami ...`: replay captures and watch live call events."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from pbx.pipeline import AmiPipeline
from pbx.replay import ReplayError, replay_file

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="AMI tools")


@app.command()
def replay(path: Annotated[Path, typer.Argument(help="raw AMI capture or JSON array")]) -> None:
    """Print one JSON line per high-level call event of a recorded AMI stream."""
    problems: list[str] = []
    pipeline = AmiPipeline(on_problem=problems.append)
    try:
        for event in replay_file(path, pipeline):
            sys.stdout.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
    except ReplayError as exc:
        typer.echo(f"hotline: {exc}", err=True)
        raise typer.Exit(2) from None
    for problem in problems:
        typer.echo(f"warning: {problem}", err=True)


@app.command()
def tail(city: Annotated[str, typer.Argument(help="city whose PBX to watch")]) -> None:
    """Print live high-level call events from a running PBX, one JSON line each."""
    from hotline.ami_tail import tail as run
    from hotline.cli import settings_or_exit

    settings = settings_or_exit()
    if city not in [c.name for c in settings.cities]:
        typer.echo(f"hotline: unknown city {city!r}", err=True)
        raise typer.Exit(2)
    run(city)
