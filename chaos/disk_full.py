"""The recordings directory full (a small tmpfs): calls are still answered, the recordings
that could not be written are reported (the controller's log names each such call), and
nothing else is lost. ``recorded``: answered calls with audio indexed; ``unrecorded``: the
others (no file, or files indexed with no audio in them); ``lost``: unrecorded and not
reported."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from chaos.row import Result, run_row
from chaos.stack import Stack
from chaos.tally import Tally, asyncpg_url
from chaos.world import Plan, World
from recording.models import Recording

NAME = "disk_full"
SIZE = "2m"  # a dozen calls' files, then the disk is full


async def _recorded(db_url: str) -> set[str]:
    """Calls with audio indexed: a file the full disk left as a bare header is indexed too
    (with what is there), but the call was not recorded."""
    engine = create_async_engine(asyncpg_url(db_url))
    try:
        async with engine.connect() as conn:
            with_audio = select(Recording.call_id).where(Recording.duration_s > 0)
            return set((await conn.scalars(with_audio)).all())
    finally:
        await engine.dispose()


async def run(stack: Stack, plan: Plan) -> Result:
    where = stack.root / "full-recordings"
    where.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0777", "tmpfs", str(where)]
    done = await asyncio.to_thread(subprocess.run, mount, capture_output=True, text=True)
    if done.returncode != 0:
        return Result(NAME, 0, 0, f"skipped: cannot mount a tmpfs ({done.stderr.strip()})")
    # The simulated PBX logs an error per file it cannot write (hundreds); what the row
    # judges is what the controller reported, in its own log.
    sim_log = logging.getLogger("sim")
    level = sim_log.level
    sim_log.setLevel(logging.CRITICAL)
    try:
        return await run_row(stack, replace(plan, recordings=where), NAME, _nothing, _figure)
    finally:
        sim_log.setLevel(level)
        await asyncio.to_thread(subprocess.run, ["umount", "-l", str(where)], capture_output=True)


async def _nothing(world: World) -> None:
    """The fault is there from the start: the disk fills with the first calls."""


async def _figure(world: World, counted: Tally) -> tuple[int, str]:
    answered = [c.call_id for c in world.ledger.calls.values() if c.answered is not None]
    await asyncio.sleep(5)  # the last calls' indexing (the controller's settle waits)
    recorded = await _recorded(world.db_url)
    log = (world.stack.root / f"{world.name}.log").read_text(errors="replace").splitlines()
    unrecorded = [c for c in answered if c not in recorded]
    # Reported: the controller's log names the call in a warning or an error (no file at
    # all, files missing or still open, a file it could not index).
    warned = " ".join(line for line in log if " WARNING " in line or " ERROR " in line)
    reported = [c for c in unrecorded if f"{c}:" in warned or f"{c} " in warned]
    rate = counted.answered / max(1, counted.routed)
    text = (
        f"answered={rate:.1%} recorded={len(answered) - len(unrecorded)} "
        f"unrecorded={len(unrecorded)} reported={len(reported)}"
    )
    return len(unrecorded) - len(reported), text
