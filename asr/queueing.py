"""Putting indexed recordings' ASR jobs on the stream, and finding the ones never put there.

The recording index is committed first and the jobs queued after it (a row must exist before
a worker can look it up), so a controller that dies or loses Redis between the two leaves
rows with no job. Each row says when its job was queued (``asr_queued_at``); the workers'
sweep queues what is still unqueued after a grace period. A job queued twice is harmless:
finishing is idempotent (the transcript is unique per recording).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy import select, update

from asr.jobs import Job, enqueue_all
from asr.models import AsrJob, Transcript
from recording.index import AfterIndex
from recording.models import Recording
from recording.transcribed import transcribed_clause
from store import keys
from store.base import utcnow
from store.sessions import Sessions

log = logging.getLogger(__name__)


def _job(row: Recording) -> Job:
    return Job(row.id, row.call_id, row.city, row.speaker, row.path)


async def queue_jobs(sessions: Sessions, redis: Redis, recordings: Sequence[Recording]) -> int:
    """Queue one job per recording and mark the rows queued. Returns how many were queued."""
    if not recordings:
        return 0
    await enqueue_all(redis, [_job(r) for r in recordings])
    async with sessions.begin() as session:
        await session.execute(
            update(Recording)
            .where(Recording.id.in_([r.id for r in recordings]))
            .values(asr_queued_at=utcnow())
        )
    return len(recordings)


async def unqueued(sessions: Sessions, *, older_than_s: float, limit: int = 500) -> list[Recording]:
    """Rows indexed more than ``older_than_s`` ago whose job never went on the stream: not
    transcribed, no outcome, file not pruned, and to be transcribed (recording.transcribed)."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    query = (
        select(Recording)
        .outerjoin(Transcript, Transcript.recording_id == Recording.id)
        .outerjoin(AsrJob, AsrJob.recording_id == Recording.id)
        .where(Recording.asr_queued_at.is_(None))
        .where(Recording.deleted_at.is_(None))
        .where(Recording.indexed_at < cutoff)
        .where(Transcript.id.is_(None))
        .where(AsrJob.id.is_(None))
        .where(transcribed_clause())
        .order_by(Recording.id)
        .limit(limit)
    )
    async with sessions() as session:
        return list((await session.scalars(query)).all())


async def sweep(
    sessions: Sessions, redis: Redis, *, older_than_s: float, every_s: float, limit: int = 500
) -> int | None:
    """Queue the recordings left unqueued. One worker sweeps per ``every_s`` (a Redis lock),
    so many workers do not all scan the table; None when another worker holds the turn."""
    if not await redis.set(keys.ASR_SWEEP_LOCK, "1", nx=True, px=max(int(every_s * 1000), 1)):
        return None
    found = await unqueued(sessions, older_than_s=older_than_s, limit=limit)
    queued = await queue_jobs(sessions, redis, found)
    if queued:
        log.warning(
            "asr sweep: queued %d recording(s) whose jobs were never queued: %s",
            queued,
            ", ".join(str(r.id) for r in found[:20]),
        )
    return queued


def job_queuer(sessions: Sessions, redis: Redis) -> AfterIndex:
    """The recording indexer's hook that puts the newly indexed recordings' jobs on the stream."""

    async def after_index(rows: Sequence[Recording]) -> int:
        return await queue_jobs(sessions, redis, rows)

    return after_index
