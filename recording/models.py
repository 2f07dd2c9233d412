"""The recording index: one row per audio file Asterisk's MixMonitor wrote for a call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow


class Recording(Base):
    """One file: the mixed call, or one speaker's side (``caller`` = in, ``seat`` = out)."""

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64))  # Asterisk Linkedid (call_records.call_id)
    attempt: Mapped[int] = mapped_column(default=1)  # HL_REC is per seat attempt
    city: Mapped[str] = mapped_column(String(32))
    seat_id: Mapped[str | None] = mapped_column(String(32), default=None)
    speaker: Mapped[str] = mapped_column(String(8))  # mixed | caller | seat
    path: Mapped[str] = mapped_column(String(500), unique=True)
    format: Mapped[str] = mapped_column(String(16))  # wav-pcm16, wav-ulaw, wav-gsm, ...
    sample_rate: Mapped[int] = mapped_column(default=8000)
    duration_s: Mapped[float] = mapped_column(default=0.0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    indexed_at: Mapped[datetime] = mapped_column(default=utcnow)
    qa_hold: Mapped[bool] = mapped_column(default=False)  # QA flagged it: retention keeps it
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)  # file pruned, row kept
    # When its ASR job went onto the stream. None: not yet, because the indexer stopped
    # between its commit and the enqueue (a crash, a Redis outage); the workers' sweep
    # (asr.queueing) queues it then. Also None for a mixed file whose speakers are queued.
    asr_queued_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_recordings_call_id", "call_id"),
        Index("ix_recordings_started_at", "started_at"),
    )
