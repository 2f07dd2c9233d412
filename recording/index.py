"""Index a finished call's recordings and hand the new rows on (ASR jobs, by the composition root).

Called by the controller when an answered call ends. Files are measured and hashed in a
thread (a long call's WAV is tens of MB; the controller's event loop must not wait on it).
Indexing twice is harmless: a path already indexed is skipped, and only new rows get a job.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recording.audio import AudioError, probe
from recording.models import Recording
from recording.policy import Found, attempts_on_disk
from recording.transcribed import transcribed_speakers

log = logging.getLogger(__name__)
# What to do with the newly indexed rows that are to be transcribed: queue their ASR jobs. The
# composition root passes asr's function; recording/ does not know ASR exists.
AfterIndex = Callable[[Sequence[Recording]], Awaitable[object]]
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class Measured:
    found: Found
    format: str
    sample_rate: int
    duration_s: float
    size_bytes: int
    sha256: str


def measure(found: Found) -> Measured:
    digest = hashlib.sha256()
    with found.path.open("rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            digest.update(block)
    size = found.path.stat().st_size
    try:
        info = probe(found.path)
        fmt, rate, duration = info.format, info.sample_rate, info.duration_s
    except AudioError as exc:
        # Indexed anyway: the file exists and QA may want it; its ASR job records the failure.
        log.warning("recording %s: %s", found.path, exc)
        fmt, rate, duration = "unreadable", 0, 0.0
    return Measured(found, fmt, rate, duration, size, digest.hexdigest())


def _choose(found: list[Found], keep_mixed: bool) -> tuple[list[Found], list[Found]]:
    """(files to index, files to delete). MixMonitor starts before the seat answers, so the
    files of earlier, unanswered attempts hold only ringing; the answered attempt is the last."""
    if not found:
        return [], []
    last = max(f.attempt for f in found)
    keep = [f for f in found if f.attempt == last]
    drop = [f for f in found if f.attempt != last]
    if not keep_mixed and any(f.speaker != "mixed" for f in keep):
        drop += [f for f in keep if f.speaker == "mixed"]
        keep = [f for f in keep if f.speaker != "mixed"]
    return keep, drop


def _scan(root: str, call_id: str, arrived_at: datetime, keep_mixed: bool) -> list[Measured]:
    keep, drop = _choose(attempts_on_disk(root, call_id, arrived_at), keep_mixed)
    for f in drop:
        f.path.unlink(missing_ok=True)
    return [measure(f) for f in keep]


async def index_call(
    sessions: async_sessionmaker[AsyncSession],
    after_index: AfterIndex | None,
    *,
    call_id: str,
    city: str,
    seat_id: str | None,
    root: str | Path,
    arrived_at: datetime,
    started_at: datetime,
    keep_mixed: bool = True,
) -> list[int]:
    """Write Recording rows for the call's files, then hand the new rows that are to be
    transcribed (recording.transcribed) to ``after_index``. Returns the new row ids."""
    measured = await asyncio.to_thread(_scan, str(root), call_id, arrived_at, keep_mixed)
    if not measured:
        log.info("recording %s %s: no files under %s", city, call_id, root)
        return []
    new: list[Recording] = []
    async with sessions.begin() as session:
        paths = [str(m.found.path) for m in measured]
        known = set(
            (await session.scalars(select(Recording.path).where(Recording.path.in_(paths)))).all()
        )
        for m in measured:
            if str(m.found.path) in known:
                continue
            row = Recording(
                call_id=call_id,
                attempt=m.found.attempt,
                city=city,
                seat_id=seat_id,
                speaker=m.found.speaker,
                path=str(m.found.path),
                format=m.format,
                sample_rate=m.sample_rate,
                duration_s=m.duration_s,
                size_bytes=m.size_bytes,
                sha256=m.sha256,
                started_at=started_at,
            )
            session.add(row)
            new.append(row)
        await session.flush()
    # If this stops here (a crash, Redis down), the rows stay unqueued and the ASR workers'
    # sweep queues them (asr.queueing): the index is never left without its jobs.
    if after_index is not None:
        # Over every file of the call, not only the new rows: a mixed file indexed after its
        # sides (a second pass) is still not transcribed.
        wanted = transcribed_speakers(m.found.speaker for m in measured)
        await after_index([r for r in new if r.speaker in wanted])
    log.info(
        "recording %s %s: indexed %d file(s), seat %s", city, call_id, len(new), seat_id or "-"
    )
    return [r.id for r in new]
