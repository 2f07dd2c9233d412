"""Callback tables: the task (who is to be called back) and every attempt at it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base


class CallbackAttempt(Base):
    """One try at a callback task: the seat leg first, then the citizen.

    ``key`` is the Originate's idempotency key, written before the Originate is sent, so no
    process ever sends the same attempt twice. outcome: connected, noanswer, busy, failed,
    seat_noanswer (the seat did not pick up; the citizen never rang), seat_unreachable (the
    seat's phone could not be called: Originate Reason 0), lost (Asterisk never ran it),
    cancelled; None while the attempt runs. Labels for people: callback_store.OUTCOME_LABELS.
    """

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("callback_tasks.id", ondelete="CASCADE"))
    attempt: Mapped[int]
    key: Mapped[str] = mapped_column(String(64), unique=True)
    city: Mapped[str] = mapped_column(String(32))
    seat_id: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    seat_answered_at: Mapped[datetime | None] = mapped_column(default=None)
    dialled_at: Mapped[datetime | None] = mapped_column(default=None)  # the citizen rang
    answered_at: Mapped[datetime | None] = mapped_column(default=None)  # the citizen picked up
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    dial_status: Mapped[str | None] = mapped_column(String(16), default=None)
    leg_id: Mapped[str | None] = mapped_column(String(64), default=None)  # seat leg Uniqueid

    __table_args__ = (
        UniqueConstraint("task_id", "attempt", name="uq_callback_attempts_task_attempt"),
        Index("ix_callback_attempts_city_outcome", "city", "outcome"),
        # The weekly report counts a period's attempts (reports_0001).
        Index("ix_callback_attempts_started_at", "started_at"),
    )


class CallbackTask(Base):
    """A citizen to call back (漏话回拨). Written before anything else acts on it."""

    __tablename__ = "callback_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32))  # personal data
    city: Mapped[str] = mapped_column(String(32))
    skill: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))  # abandoned | overload | missed
    call_id: Mapped[str | None] = mapped_column(String(64), default=None)
    waited_s: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="open")
    attempts: Mapped[int] = mapped_column(default=0)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    # When the next attempt may start (backoff after a no-answer); None: as soon as possible.
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    # Why the task was closed without dialling (a number the outbound policy refuses).
    reason: Mapped[str | None] = mapped_column(String(100), default=None)
    # The one seat that must take it (a 回访台 seat's own click); None: any ready seat.
    seat_id: Mapped[str | None] = mapped_column(String(32), default=None)

    __table_args__ = (
        # One open task per number, enforced by the database itself.
        Index(
            "uq_callback_tasks_open_number",
            "number",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_callback_tasks_number_created", "number", "created_at"),
    )
