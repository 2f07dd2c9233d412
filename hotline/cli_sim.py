"""`hotline sim ...`: run the captures' scenarios against the PBX simulator."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="PBX simulator")


@app.command()
def record(
    scenario: Annotated[str, typer.Argument(help="a capture's name, e.g. acd_redirect_answer")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the .ami file to write")],
    speed: Annotated[
        float, typer.Option(help="time factor: 1 = the capture's own pace, 0.1 = ten times faster")
    ] = 1.0,
) -> None:
    """Run one scripted scenario and write the AMI stream the client received.

    Beside FILE go FILE's .actions (bytes sent) and .timeline.jsonl, as in the captures.
    """
    from loadgen import scenarios  # the simulator and its drivers are imported lazily

    sc = scenarios.SCENARIOS.get(scenario)
    if sc is None:
        known = ", ".join(sorted(scenarios.SCENARIOS))
        typer.echo(f"hotline: no scenario {scenario!r}; known: {known}", err=True)
        raise typer.Exit(2)
    if sc.run is None:
        typer.echo(f"hotline: scenario {scenario} is pending: {sc.pending}", err=True)
        raise typer.Exit(3)
    if not speed > 0:
        typer.echo("hotline: --speed must be positive", err=True)
        raise typer.Exit(2)
    client = asyncio.run(scenarios.run(scenario, speed))
    for path in client.write(output):
        typer.echo(str(path))


@app.command()
def recording(
    base: Annotated[Path, typer.Argument(help="writes BASE.wav, BASE-in.wav, BASE-out.wav")],
    language: Annotated[str, typer.Option(help="zh (Mandarin) or ko (Korean)")] = "zh",
    seconds: Annotated[float, typer.Option(help="length of the call")] = 20.0,
) -> None:
    """The three MixMonitor files of one simulated call (espeak-ng reading a scripted dialogue)."""
    from sim.recorder import VOICES, Recorder, RecorderError

    if language not in VOICES:
        typer.echo(f"hotline: --language must be one of {', '.join(sorted(VOICES))}", err=True)
        raise typer.Exit(2)
    if not 0 < seconds <= 3600:
        typer.echo("hotline: --seconds must be in (0, 3600]", err=True)
        raise typer.Exit(2)
    try:
        paths = Recorder(language).write_now(str(base), seconds)
    except RecorderError as exc:
        typer.echo(f"hotline: {exc}", err=True)
        raise typer.Exit(1) from None
    for path in paths:
        typer.echo(str(path))


@app.command("list")
def list_() -> None:
    """The scenarios, runnable or pending (with the reason)."""
    from loadgen import scenarios

    for name, sc in sorted(scenarios.SCENARIOS.items()):
        typer.echo(f"{name}\t{'runs' if sc.run else 'pending: ' + sc.pending}")
