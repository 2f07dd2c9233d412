"""Tables of callback execution and transfers: every attempt and every hand-over on record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
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
    )


class CallTransfer(Base):
    """A seat brought a department into a call (conference) or handed the call over (blind).

    result: connected, noanswer, busy, failed; None while the department rings.
    """

    __tablename__ = "call_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    city: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # conference | blind
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), default=None
    )
    number: Mapped[str] = mapped_column(String(32))
    seat_id: Mapped[str] = mapped_column(String(32))
    room: Mapped[str | None] = mapped_column(String(64), default=None)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # Originate idempotency key
    stay: Mapped[bool] = mapped_column(default=True)
    requested_at: Mapped[datetime]
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    seat_left_at: Mapped[datetime | None] = mapped_column(default=None)
    result: Mapped[str | None] = mapped_column(String(16), default=None)
