"""The durable call record: one row per call, one per offer to a seat, one per transfer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
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
        # The weekly report reads every city's calls of a period (reports_0001).
        Index("ix_call_records_entered_at", "entered_at"),
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
