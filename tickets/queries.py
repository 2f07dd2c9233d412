"""Read side of the loop: a unit's inbox, the overdue list (标记跟踪) and the 清零 view.

Every list is paginated; the scans read open tickets through the (status, deadline) indexes,
one range per open state, instead of a full scan of the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.lifecycle import OPEN_STATES, State
from tickets.models import Ticket, TicketUnit, Unit

RUNNING = (State.IN_PROGRESS.value, State.RETURNED.value)


@dataclass(frozen=True)
class Page:
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= 500 or self.offset < 0:
            raise ValueError("limit must be 1..500 and offset >= 0")


def _overdue_filter(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(Ticket.status == State.DISPATCHED.value, Ticket.sign_due_at < now),
        and_(Ticket.status.in_((State.DISPATCHED.value, *RUNNING)), Ticket.due_at < now),
    )


def overdue_query(now: datetime, unit_id: int | None = None) -> Select[Ticket]:
    query = select(Ticket).where(_overdue_filter(now))
    if unit_id is not None:
        query = query.where(Ticket.lead_unit_id == unit_id)
    return query.order_by(Ticket.due_at, Ticket.id)


async def overdue(
    session: AsyncSession, now: datetime, unit_id: int | None = None, page: Page | None = None
) -> list[Ticket]:
    """Open tickets past their sign window or their deadline, oldest deadline first."""
    p = page or Page()
    rows = await session.scalars(overdue_query(now, unit_id).limit(p.limit).offset(p.offset))
    return list(rows.all())


async def inbox(
    session: AsyncSession,
    unit_id: int,
    states: tuple[State, ...] = (State.DISPATCHED, State.IN_PROGRESS),
    page: Page | None = None,
) -> list[Ticket]:
    """A unit's tickets as 主办 in the given states, nearest deadline first."""
    p = page or Page()
    rows = await session.scalars(
        select(Ticket)
        .where(Ticket.lead_unit_id == unit_id, Ticket.status.in_([s.value for s in states]))
        .order_by(Ticket.due_at, Ticket.id)
        .limit(p.limit)
        .offset(p.offset)
    )
    return list(rows.all())


@dataclass(frozen=True)
class ClearanceRow:
    unit_id: int | None
    unit_name: str
    open: int
    overdue: int
    unsatisfied: int


async def clearance(
    session: AsyncSession, accepted_before: datetime, now: datetime
) -> list[ClearanceRow]:
    """清零: per lead unit, tickets accepted before the cut-off that are still open, how many of
    them overdue, and how many a citizen was unsatisfied with; the units with most first."""
    open_states = [s.value for s in OPEN_STATES]
    is_overdue = func.sum(case((_overdue_filter(now), 1), else_=0))
    unhappy = func.sum(case((Ticket.satisfaction == "不满意", 1), else_=0))
    rows = await session.execute(
        select(Ticket.lead_unit_id, Unit.name, func.count(Ticket.id), is_overdue, unhappy)
        .outerjoin(Unit, Unit.id == Ticket.lead_unit_id)
        .where(Ticket.status.in_(open_states), Ticket.accepted_at < accepted_before)
        .group_by(Ticket.lead_unit_id, Unit.name)
        .order_by(func.count(Ticket.id).desc())
    )
    return [
        ClearanceRow(unit_id, name or "未派单", int(n), int(late or 0), int(bad or 0))
        for unit_id, name, n, late, bad in rows.all()
    ]


async def units_of(session: AsyncSession, ticket_id: int) -> list[tuple[Unit, str]]:
    rows = await session.execute(
        select(Unit, TicketUnit.role)
        .join(TicketUnit, TicketUnit.unit_id == Unit.id)
        .where(TicketUnit.ticket_id == ticket_id)
        .order_by(TicketUnit.id)
    )
    return [(u, role) for u, role in rows.all()]
