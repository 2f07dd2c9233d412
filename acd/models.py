"""The durable call record: one row per call, one row per offer to a seat."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.base import Base


class CallRecord(Base):
    __tablename__ = "call_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)  # Asterisk Linkedid
    city: Mapped[str] = mapped_column(String(32))  # the caller's city
    caller_num: Mapped[str] = mapped_column(String(32), default="")  # personal data
    skill: Mapped[str | None] = mapped_column(String(16), default=None)
    ivr_path: Mapped[str] = mapped_column(String(32), default="")
    entered_at: Mapped[datetime]
    ivr_choice_at: Mapped[datetime | None] = mapped_column(default=None)
    queued_at: Mapped[datetime | None] = mapped_column(default=None)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    seat_id: Mapped[str | None] = mapped_column(String(32), default=None)
    answer_city: Mapped[str | None] = mapped_column(String(32), default=None)
    overflowed: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str | None] = mapped_column(String(24), default=None)
    end_cause: Mapped[int | None] = mapped_column(default=None)

    offers: Mapped[list[CallOffer]] = relationship(
        back_populates="call", order_by="CallOffer.offered_at", cascade="all, delete-orphan"
    )

    __table_args__ = (
        Index("ix_call_records_city_entered", "city", "entered_at"),
        Index("ix_call_records_caller_num", "caller_num"),
    )


class CallOffer(Base):
    """A seat was rung for the call; result: answered, noanswer, busy, cancel, gone."""

    __tablename__ = "call_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_record_id: Mapped[int] = mapped_column(ForeignKey("call_records.id", ondelete="CASCADE"))
    seat_id: Mapped[str] = mapped_column(String(32))
    seat_city: Mapped[str] = mapped_column(String(32))
    offered_at: Mapped[datetime]
    result: Mapped[str | None] = mapped_column(String(16), default=None)
    result_at: Mapped[datetime | None] = mapped_column(default=None)

    call: Mapped[CallRecord] = relationship(back_populates="offers")


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
