"""Tables of the tickets area: the department directory, the unit directory, tickets (工单),
the units a ticket is dispatched to, and the audit trail of every lifecycle step."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    number: Mapped[str] = mapped_column(String(32))
    duty_hours: Mapped[str] = mapped_column(String(32))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)


class Unit(Base):
    """承办单位: a department or a local government at 市, 县/区 or 乡镇/街道 level."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    level: Mapped[str] = mapped_column(String(8))  # 市 / 县区 / 乡镇街道
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))


class UnitMember(Base):
    """A staff account of the `unit` role and the unit it acts for (one unit per account)."""

    __tablename__ = "unit_members"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        # The overdue and 清零 views read open tickets by deadline; the unit inbox by unit.
        Index("ix_tickets_status_due_at", "status", "due_at"),
        Index("ix_tickets_status_sign_due_at", "status", "sign_due_at"),
        Index("ix_tickets_lead_unit_id_status", "lead_unit_id", "status"),
        # One ticket per call: two confirmations racing cannot both insert (tickets_0003).
        Index(
            "uq_tickets_call_id",
            "call_id",
            unique=True,
            sqlite_where=text("call_id <> ''"),
            postgresql_where=text("call_id <> ''"),
        ),
        # Statistics by channel over a period (tickets.stats).
        Index("ix_tickets_channel_accepted_at", "channel", "accepted_at"),
        # The weekly report's periods: accepted in a week, due in a week (reports_0001).
        Index("ix_tickets_accepted_at", "accepted_at"),
        Index("ix_tickets_due_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    call_id: Mapped[str] = mapped_column(String(64))
    caller_number: Mapped[str] = mapped_column(String(32), index=True)
    category: Mapped[str] = mapped_column(String(64))
    request_type: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(String(500))
    location: Mapped[str | None] = mapped_column(String(200))
    urgent: Mapped[bool] = mapped_column(default=False)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    tier_days: Mapped[int] = mapped_column(Integer)
    accepted_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="受理")
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The closed loop (tickets.lifecycle)
    enterprise: Mapped[bool] = mapped_column(default=False)  # 政企通
    visit_required: Mapped[bool] = mapped_column(default=False)
    visited: Mapped[bool] = mapped_column(default=False)
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    sign_due_at: Mapped[datetime | None] = mapped_column()
    signed_at: Mapped[datetime | None] = mapped_column()
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None] = mapped_column()
    direct_answer: Mapped[bool] = mapped_column(default=False)
    extension_days: Mapped[int] = mapped_column(Integer, default=0)  # asked for, pending
    extension_reason: Mapped[str | None] = mapped_column(String(500))
    returns: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    supervised: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column()
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    # The door it came in by (tickets.channels): a call, the web form, a mini-program, ...
    channel: Mapped[str] = mapped_column(String(16), default="phone")
    # 直接答复 from the 政策知识库: the entry the seat answered from (an id of the knowledge
    # area, no foreign key: tickets does not know its tables).
    kb_entry_id: Mapped[int | None] = mapped_column(Integer)


class TicketUnit(Base):
    """The units one dispatch sent the ticket to: one 主办 (lead), any 协办 (assisting)."""

    __tablename__ = "ticket_units"
    __table_args__ = (UniqueConstraint("ticket_id", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[str] = mapped_column(String(8))  # 主办 / 协办


class TicketEvent(Base):
    """One lifecycle step: who did what to which ticket, when and why."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketAttachment(Base):
    """A file a unit sent with its 办结 reply: which reply (the ticket's reopen count when it
    replied), who, when, the name shown (cleaned), the kind read from the bytes, and where it
    lies under the data dir (a name of our own)."""

    __tablename__ = "ticket_attachments"
    __table_args__ = (
        Index("ix_ticket_attachments_ticket_id_reply_round", "ticket_id", "reply_round"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    reply_round: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    name: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(200))
