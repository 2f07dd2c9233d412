"""Small async operations on tickets: create from a confirmed draft, list by caller.

Lifecycle steps after 受理 are tickets.loop.act's."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import utcnow
from tickets import channels
from tickets.departments import DepartmentInfo
from tickets.lifecycle import OPEN_STATES
from tickets.loop import VisitPolicy
from tickets.models import Department, Ticket
from tickets.workdays import CITY_TZ, WorkCalendar, due_at

# Clock hours for an urgent matter; the same figure as the draft builder's (asr/draft/data/
# urgency.yaml ``hours``), so the draft and the ticket the seat confirms agree.
URGENT_HOURS = 2


class TicketError(ValueError):
    """A ticket operation the rules refuse (unknown ticket, bad transition, bad value)."""


class TicketExists(TicketError):
    """The call has a ticket already."""


class ConfirmedDraft(Protocol):
    """What a staff-confirmed draft provides (asr.draft.Draft has these fields)."""

    @property
    def category(self) -> str: ...
    @property
    def request_type(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def location(self) -> str | None: ...
    @property
    def urgent(self) -> bool: ...
    @property
    def department(self) -> str | None: ...
    @property
    def tier_days(self) -> int: ...


async def seed_departments(session: AsyncSession, entries: Sequence[DepartmentInfo]) -> int:
    """Insert or update the directory by name; returns how many entries were written."""
    existing = {d.name: d for d in (await session.scalars(select(Department))).all()}
    for e in entries:
        row = existing.get(e.name) or Department(name=e.name)
        row.number, row.duty_hours, row.categories = e.number, e.duty_hours, list(e.categories)
        session.add(row)
    await session.commit()
    return len(entries)


async def create_ticket(
    session: AsyncSession,
    draft: ConfirmedDraft,
    *,
    call_id: str,
    caller_number: str,
    accepted_at: datetime | None = None,
    calendar: WorkCalendar | None = None,
    tz: ZoneInfo = CITY_TZ,
    enterprise: bool = False,
    visits: VisitPolicy | None = None,
    urgent_hours: int | None = URGENT_HOURS,
    channel: str = channels.PHONE,
    commit: bool = True,
) -> Ticket:
    """A ticket in 受理 from a confirmed draft. Its deadline: ``urgent_hours`` clock hours for an
    urgent matter (a gas smell at night cannot wait for Monday), else ``tier_days`` working
    days on the calendar. ``commit=False`` leaves the transaction open for a caller that
    writes more rows with the ticket (an intake message). TicketExists if the call has one
    already: the unique index decides, so two confirmations at the same moment make one."""
    if channel not in channels.LABELS:
        raise TicketError(f"unknown channel {channel!r}")
    accepted = accepted_at or utcnow()
    dept_id = None
    if draft.department is not None:
        dept = await session.scalar(select(Department).where(Department.name == draft.department))
        if dept is None:
            raise TicketError(f"unknown department {draft.department!r}")
        dept_id = dept.id
    ticket = Ticket(
        call_id=call_id,
        caller_number=caller_number,
        category=draft.category,
        request_type=draft.request_type,
        summary=draft.summary[:500],
        location=draft.location,
        urgent=draft.urgent,
        department_id=dept_id,
        tier_days=draft.tier_days,
        accepted_at=accepted,
        due_at=(
            accepted + timedelta(hours=urgent_hours)
            if draft.urgent and urgent_hours
            else due_at(accepted, draft.tier_days, calendar, tz)
        ),
        status="受理",
        channel=channel,
        updated_at=utcnow(),
    )
    session.add(ticket)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise TicketExists(f"call {call_id} has a ticket already") from None
    # The number staff quote: acceptance date in city time + the row id.
    ticket.number = f"{accepted.astimezone(tz):%Y%m%d}{ticket.id:06d}"
    ticket.enterprise = enterprise
    ticket.visit_required = (visits or VisitPolicy()).required(ticket.number, enterprise)
    if commit:
        await session.commit()
    return ticket


async def tickets_for_caller(session: AsyncSession, caller_number: str) -> list[Ticket]:
    rows = await session.scalars(
        select(Ticket).where(Ticket.caller_number == caller_number).order_by(Ticket.accepted_at)
    )
    return list(rows.all())


async def department_directory(session: AsyncSession) -> list[DepartmentInfo]:
    """The directory as stored: for draft suggestions and three-way transfers."""
    rows = await session.scalars(select(Department).order_by(Department.id))
    return [DepartmentInfo(d.name, d.number, d.duty_hours, tuple(d.categories)) for d in rows.all()]


@dataclass(frozen=True)
class DepartmentRef:
    """A department as a three-way transfer needs it."""

    id: int
    name: str
    number: str
    duty_hours: str


async def department_by_id(session: AsyncSession, department_id: int) -> DepartmentRef | None:
    dept = await session.get(Department, department_id)
    if dept is None:
        return None
    return DepartmentRef(dept.id, dept.name, dept.number, dept.duty_hours)


async def department_numbers(session: AsyncSession) -> list[str]:
    """Every directory number: the numbers a seat may dial out to without the outbound rules."""
    return list((await session.scalars(select(Department.number))).all())


async def calls_with_open_tickets(session: AsyncSession, call_ids: Collection[str]) -> set[str]:
    """Which of these calls have a ticket still open (their recordings may still be needed)."""
    if not call_ids:
        return set()
    open_states = [s.value for s in OPEN_STATES]
    rows = await session.scalars(
        select(Ticket.call_id).where(
            Ticket.call_id.in_(set(call_ids)), Ticket.status.in_(open_states)
        )
    )
    return {c for c in rows.all() if c is not None}
