"""Bodies of the 工单 loop's routes (api/routes/tickets.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from api.schemas import Strict
from tickets.lifecycle import Action, Satisfaction

Reason = Annotated[str, StringConstraints(max_length=2000)]
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]  # a 32-bit id in PostgreSQL


class ActionIn(Strict):
    """One lifecycle step. Which fields an action needs: dispatch → units (lead first);
    return / request_extension / supervise → reason; reply / direct_answer → reason (the
    answer); request_extension → extension_days; decide_extension → approve (+ extension_days
    when approving; default: the days asked for); visit → satisfaction; merge → into."""

    action: Action
    reason: Reason = ""
    units: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(
        default_factory=list, max_length=10
    )
    approve: bool | None = None
    extension_days: Annotated[int, Field(ge=0, le=30)] = 0
    satisfaction: Satisfaction | None = None
    into: RowId | None = None
    kb_entry: RowId | None = None  # direct_answer: the 知识库 entry the answer came from


class UnitOut(BaseModel):
    id: int
    name: str
    level: str
    parent_id: int | None


class TicketUnitOut(BaseModel):
    unit_id: int
    name: str
    role: str  # 主办 / 协办


class TicketEventOut(BaseModel):
    action: str
    from_state: str
    to_state: str
    actor: str
    role: str
    reason: str
    detail: dict[str, object]
    at: datetime


class TicketRow(BaseModel):
    id: int
    number: str | None
    status: str
    category: str
    summary: str
    location: str | None
    enterprise: bool
    urgent: bool
    accepted_at: datetime
    sign_due_at: datetime | None
    due_at: datetime
    lead_unit_id: int | None
    returns: int
    reopen_count: int
    supervised: int
    visit_required: bool
    visited: bool
    satisfaction: str | None
    extension_days: int
    overdue: bool
    channel: str  # tickets.channels: phone, web, wechat, alipay, sms, app, platform


class DuplicateOut(BaseModel):
    ticket: TicketRow
    score: float
    reasons: list[str]


class AttachmentOut(BaseModel):
    """A file of a 办结 reply; ``url`` downloads it (with the bearer token)."""

    id: int
    reply_round: int  # the reopen count when the unit replied: 0 for the first reply
    name: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime
    url: str


class TicketDetail(TicketRow):
    call_id: str
    caller_number: str  # the dispatcher, the handling unit and the 回访 desk call the citizen
    request_type: str
    reply: str | None
    extension_reason: str | None
    merged_into_id: int | None
    direct_answer: bool
    kb_entry_id: int | None  # 直接答复 from this 知识库 entry
    units: list[TicketUnitOut]
    events: list[TicketEventOut]
    duplicates: list[DuplicateOut]
    attachments: list[AttachmentOut] = []


class TicketPage(BaseModel):
    items: list[TicketRow]
    limit: int
    offset: int


class ClearanceOut(BaseModel):
    unit_id: int | None
    unit_name: str
    open: int
    overdue: int
    unsatisfied: int


class PublicTicketOut(BaseModel):
    number: str
    status: str
    category: str
    accepted_at: datetime
    due_at: datetime
    unit: str | None
    reply: str | None


ListState = Literal["受理", "已派单", "办理中", "已退单", "已办结", "已回访", "待审核", "已销号"]


class VisitCallIn(Strict):
    """回访台: call the citizen now. ``ivr``: the automated visit (press 1/2/3); ``seat``: a
    ready seat is rung first, then the citizen (as a callback), and records what it hears."""

    mode: Literal["ivr", "seat"]
    city: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")] | None = None


class VisitCallOut(BaseModel):
    id: int
    ticket_id: int
    reply_round: int
    mode: str
    status: str
    status_label: str
    attempts: int
    outcome: str | None
    outcome_label: str | None
    result: str | None
    result_label: str | None
    created_at: datetime
    created: bool = False  # this request made it (a repeated click finds the same visit)
