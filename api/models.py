"""Tables of the API area: staff accounts, seat profiles, the audit log, QA rubrics, scores,
comments, assignments and appeals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow

# qa_lead (质检组长): a QA reviewer who also samples calls and resolves appeals;
# unit: a 承办单位 account (tickets.units.UnitMember says which unit).
# leader: reads the reports (/reports) and nothing else; knowledge: edits the knowledge base.
ROLES = ("seat", "dispatcher", "qa", "qa_lead", "admin", "unit", "leader", "knowledge")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    role: Mapped[str] = mapped_column(String(16))  # one of ROLES
    # A seat operator's seat; a dispatcher's supervisor softphone (listen / whisper / barge).
    seat_id: Mapped[str | None] = mapped_column(String(32), default=None)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The cities a dispatcher may act on (overflow, skills, callbacks, monitoring); empty:
    # every city. Admins always act on every city (api.auth.may_act_on).
    cities: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))


class SeatProfile(Base):
    """A seat position as the admin set it up: its city, skills and softphone."""

    __tablename__ = "seat_profiles"

    seat_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    city: Mapped[str] = mapped_column(String(32))
    skills: Mapped[dict[str, int]] = mapped_column(JSON)  # skill -> level
    endpoint: Mapped[str] = mapped_column(String(64))  # e.g. PJSIP/1001


class AuditEntry(Base):
    """Who looked at or did what: every recording playback and transcript view, supervisor
    monitoring (listen / whisper / barge), role and account changes, overflow switches."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(default=None)
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))  # recording.play | transcript.view | ...
    target: Mapped[str] = mapped_column(String(100))  # e.g. recording:12
    call_id: Mapped[str | None] = mapped_column(String(64), default=None)
    detail: Mapped[str] = mapped_column(String(200), default="")

    __table_args__ = (Index("ix_audit_log_at", "at"),)


class QaRubric(Base):
    """A scoring form: items with a label and a maximum; the newest active one is used."""

    __tablename__ = "qa_rubrics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # key, label, max
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QaScore(Base):
    __tablename__ = "qa_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64))
    rubric_id: Mapped[int] = mapped_column(ForeignKey("qa_rubrics.id"))
    reviewer: Mapped[str] = mapped_column(String(64))
    scores: Mapped[dict[str, int]] = mapped_column(JSON)
    total: Mapped[int]
    max_total: Mapped[int]
    remark: Mapped[str] = mapped_column(Text, default="")
    item_remarks: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # key -> remark
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_qa_scores_call_id", "call_id"),)


class QaComment(Base):
    __tablename__ = "qa_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(64))
    at_s: Mapped[float | None] = mapped_column(default=None)  # position in the recording
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_qa_comments_call_id", "call_id"),)


class QaAssignment(Base):
    """A call sampled for review and the reviewer it went to; a call is assigned once."""

    __tablename__ = "qa_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    seat_id: Mapped[str | None] = mapped_column(String(32), default=None)
    reviewer: Mapped[str] = mapped_column(String(64))
    assigned_by: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(8), default="pending")  # pending | done
    score_id: Mapped[int | None] = mapped_column(default=None)
    done_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_qa_assignments_reviewer_status", "reviewer", "status"),)


class QaAppeal(Base):
    """A seat's appeal (申诉) against one score: once per score, resolved by a QA lead."""

    __tablename__ = "qa_appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("qa_scores.id"), unique=True)
    call_id: Mapped[str] = mapped_column(String(64))
    seat_id: Mapped[str] = mapped_column(String(32))
    appellant: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | upheld | changed
    resolved_by: Mapped[str | None] = mapped_column(String(64), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution: Mapped[str] = mapped_column(Text, default="")
    # The score as it stood before a change, so a changed score can always be traced back.
    old_scores: Mapped[dict[str, int] | None] = mapped_column(JSON, default=None)
    old_total: Mapped[int | None] = mapped_column(default=None)

    __table_args__ = (Index("ix_qa_appeals_status", "status"),)
