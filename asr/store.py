"""Transcripts and job outcomes in the database; segment search."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from asr.engine import FileResult
from asr.models import AsrJob, Transcript, TranscriptSegment
from recording.models import Recording
from store.base import utcnow
from store.sessions import Sessions

# A stereo file of one call: left is the caller, right the seat (a site's MixMonitor choice).
_STEREO = ("caller", "seat")


def channel_speaker(recording_speaker: str, channel: int, channels: int) -> str:
    if recording_speaker == "mixed" and channels == 2:
        return _STEREO[channel]
    return recording_speaker


def _transcript(recording: Recording, result: FileResult, model: str) -> Transcript:
    n = len(result.channels)
    return Transcript(
        recording_id=recording.id,
        call_id=recording.call_id,
        speaker=recording.speaker,
        text=result.text,
        model=model,
        audio_s=result.duration_s,
        segments=[
            TranscriptSegment(
                speaker=channel_speaker(recording.speaker, ch.channel, n),
                start_s=seg.start,
                end_s=seg.end,
                text=seg.text,
                confidence=seg.confidence,
                words=seg.as_json()["words"],
            )
            for ch in result.channels
            for seg in ch.segments
        ],
    )


async def store_transcript(
    sessions: Sessions,
    recording: Recording,
    result: FileResult,
    model: str,
    *,
    deliveries: int = 1,
    worker: str = "",
) -> bool:
    """Insert the transcript, its segments and the job's ``done`` outcome in one transaction;
    False if a transcript already exists (finished by another worker): the unique
    recording_id makes finishing idempotent."""
    for _ in range(3):
        try:
            async with sessions.begin() as session:
                session.add(_transcript(recording, result, model))
                await _put_outcome(
                    session, recording.id, recording.call_id, "done", deliveries, "", worker
                )
            return True
        except IntegrityError:
            # Either the transcript (another worker finished first) or the outcome row
            # (another worker is recording one right now) was there; tell which.
            if await has_transcript(sessions, recording.id):
                await record_outcome(
                    sessions,
                    recording.id,
                    recording.call_id,
                    "done",
                    deliveries=deliveries,
                    worker=worker,
                )
                return False
    raise RuntimeError(f"recording {recording.id}: the transcript could not be stored")


async def has_transcript(sessions: Sessions, recording_id: int) -> bool:
    async with sessions() as session:
        found = await session.scalar(
            select(Transcript.id).where(Transcript.recording_id == recording_id)
        )
    return found is not None


async def recording_to_do(sessions: Sessions, recording_id: int) -> tuple[Recording | None, bool]:
    """The indexed recording (None if not indexed) and whether it is already transcribed."""
    async with sessions() as session:
        row = (
            await session.execute(
                select(Recording, Transcript.id)
                .outerjoin(Transcript, Transcript.recording_id == Recording.id)
                .where(Recording.id == recording_id)
            )
        ).first()
    if row is None:
        return None, False
    return row[0], row[1] is not None


async def _put_outcome(
    session: AsyncSession,
    recording_id: int,
    call_id: str,
    status: str,
    deliveries: int,
    error: str,
    worker: str,
) -> None:
    row = await session.scalar(select(AsrJob).where(AsrJob.recording_id == recording_id))
    if row is None:
        row = AsrJob(recording_id=recording_id, call_id=call_id)
        session.add(row)
    elif row.status == "done" and status != "done":
        return  # a finished job stays finished
    row.status, row.error, row.worker = status, error[:2000], worker
    row.deliveries, row.updated_at = deliveries, utcnow()


async def record_outcome(
    sessions: Sessions,
    recording_id: int,
    call_id: str,
    status: str,
    *,
    deliveries: int = 1,
    error: str = "",
    worker: str = "",
) -> None:
    """Upsert the job's durable outcome (two workers may race to write it)."""
    for _ in range(2):
        try:
            async with sessions.begin() as session:
                await _put_outcome(
                    session, recording_id, call_id, status, deliveries, error, worker
                )
            return
        except IntegrityError:
            continue


@dataclass(frozen=True)
class Hit:
    call_id: str
    speaker: str
    start_s: float
    end_s: float
    text: str
    confidence: float
    at: datetime


async def search(sessions: Sessions, words: str, limit: int = 50) -> list[Hit]:
    """Segments whose text contains ``words`` (a substring: Chinese has no word breaks)."""
    # Vosk separates words with spaces, also in Chinese; a search for 噪音扰民 must find
    # "噪音 扰民", so spaces are ignored on both sides.
    needle = "".join(words.split())
    if not needle:
        raise ValueError("search text is empty")
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    async with sessions() as session:
        rows = await session.execute(
            select(TranscriptSegment, Transcript.call_id, Transcript.created_at)
            .join(Transcript, TranscriptSegment.transcript_id == Transcript.id)
            .where(func.replace(TranscriptSegment.text, " ", "").like(f"%{escaped}%", escape="\\"))
            .order_by(Transcript.created_at.desc(), TranscriptSegment.start_s)
            .limit(limit)
        )
        return [
            Hit(call_id, seg.speaker, seg.start_s, seg.end_s, seg.text, seg.confidence, at)
            for seg, call_id, at in rows.all()
        ]
