"""Transcripts of recordings (one per recording, finished exactly once) and ticket drafts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.base import Base, utcnow


class Transcript(Base):
    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique: a job that two workers both finished still leaves one transcript.
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), unique=True
    )
    call_id: Mapped[str] = mapped_column(String(64))
    speaker: Mapped[str] = mapped_column(String(8))  # of the recording: mixed | caller | seat
    text: Mapped[str] = mapped_column(Text, default="")  # all segments, for search
    model: Mapped[str] = mapped_column(String(200))  # model directory name
    audio_s: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    segments: Mapped[list[TranscriptSegment]] = relationship(
        back_populates="transcript",
        order_by="TranscriptSegment.start_s",
        cascade="all, delete-orphan",
    )

    __table_args__ = (Index("ix_transcripts_call_id", "call_id"),)


class TranscriptSegment(Base):
    """One utterance: times in seconds from the start of the recording."""

    __tablename__ = "transcript_segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id", ondelete="CASCADE"))
    speaker: Mapped[str] = mapped_column(String(8))  # caller | seat | mixed
    start_s: Mapped[float]
    end_s: Mapped[float]
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(default=0.0)
    words: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list
    )  # word, start, end, conf

    transcript: Mapped[Transcript] = relationship(back_populates="segments")

    __table_args__ = (Index("ix_transcript_segments_transcript_id", "transcript_id"),)


class CallDraft(Base):
    """The ticket draft (工单草稿) built from a call's transcript; the seat confirms it."""

    __tablename__ = "call_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    draft: Mapped[dict[str, Any]] = mapped_column(JSON)  # asr.draft.model.Draft as JSON
    source: Mapped[str] = mapped_column(String(16), default="asr")  # asr | seat
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AsrJob(Base):
    """What became of a recording's ASR job: done, or failed with the reason (kept, not lost).

    The job itself lives on the Redis Stream; this row is the durable outcome, so a job that
    cannot be done (corrupt audio, a file pruned before its turn) is recorded once and not
    retried for ever.
    """

    __tablename__ = "asr_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), unique=True
    )
    call_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8))  # done | failed
    deliveries: Mapped[int] = mapped_column(default=1)
    error: Mapped[str] = mapped_column(Text, default="")
    worker: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_asr_jobs_status", "status"),)
