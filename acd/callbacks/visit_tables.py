"""Return-visit calls (回访): one row per visit of one reply of a ticket, per way of calling."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base


class VisitCall(Base):
    """A citizen to ask about one reply: automated (`ivr`) or by a seat (`seat`).

    ``reply_round`` is the ticket's reopen count when the visit was asked for, so a visit of
    the first reply and one after a 重办 are different visits; (ticket, round, mode) is unique:
    a second click or a duplicate request finds the visit that exists and calls nobody.
    """

    __tablename__ = "visit_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int]  # tickets' id; the ticket is read through tickets' service only
    reply_round: Mapped[int] = mapped_column(default=0)
    mode: Mapped[str] = mapped_column(String(8))  # ivr | seat
    city: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(32))  # personal data
    requested_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    # queued -> calling -> done; or desk (left to the 回访台 after the attempts ran out)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    key: Mapped[str | None] = mapped_column(String(64), default=None)  # the running attempt's
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)  # of the last attempt
    result: Mapped[str | None] = mapped_column(String(8), default=None)  # 1 | 2 | 3 | none
    closed_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        UniqueConstraint("ticket_id", "reply_round", "mode"),
        Index("ix_visit_calls_city_status", "city", "status"),
    )
