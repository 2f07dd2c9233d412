"""The 工单 loop for the API: who the principal is in the loop, lists, detail, steps."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select

from api.auth import Forbidden, Principal
from knowledge import service as kb
from store.base import utcnow
from store.sessions import Sessions
from tickets import attachment_store, duplicates, lifecycle, loop, queries
from tickets import stats as tstats
from tickets.lifecycle import BadArgument, Command, Role, State
from tickets.models import Ticket, TicketAttachment, TicketEvent, Unit
from tickets.units import all_units, unit_of_user
from tickets.workdays import WorkCalendar

_ROLES = {
    "seat": Role.SEAT,
    "dispatcher": Role.DISPATCHER,
    "admin": Role.ADMIN,
    "unit": Role.UNIT,
}


async def actor_of(sessions: Sessions, who: Principal) -> loop.Actor:
    role = _ROLES.get(who.role)
    if role is None:
        raise Forbidden(f"role {who.role} has no part in the ticket loop")
    unit_id = None
    if role is Role.UNIT:
        async with sessions() as session:
            unit_id = await unit_of_user(session, who.user_id)
        if unit_id is None:
            raise Forbidden(f"account {who.username} is not assigned to a unit")
    return loop.Actor(who.username, role, unit_id)


@dataclass(frozen=True)
class Detail:
    ticket: Ticket
    units: list[tuple[Unit, str]]
    events: list[TicketEvent]
    duplicates: list[duplicates.Candidate]
    attachments: list[TicketAttachment]


def is_overdue(t: Ticket, now: datetime) -> bool:
    return loop.facts_of(t, now, loop.VisitPolicy()).overdue


async def units(sessions: Sessions) -> list[Unit]:
    async with sessions() as session:
        return await all_units(session)


async def listing(
    sessions: Sessions,
    actor: loop.Actor,
    *,
    state: State | None,
    unit_id: int | None,
    overdue_only: bool,
    page: queries.Page,
) -> list[Ticket]:
    if actor.role is Role.UNIT:
        unit_id = actor.unit_id  # a unit sees its own tickets, whatever it asks for
    elif actor.role is Role.SEAT:
        raise Forbidden("role seat may not list tickets (seats use their calls and the 回访 list)")
    now = utcnow()
    async with sessions() as session:
        if overdue_only:
            return await queries.overdue(session, now, unit_id, page)
        query = select(Ticket)
        if state is not None:
            query = query.where(Ticket.status == state.value)
        if unit_id is not None:
            query = query.where(Ticket.lead_unit_id == unit_id)
        order = (Ticket.due_at, Ticket.id) if state is not State.CLOSED else (Ticket.id,)
        rows = await session.scalars(query.order_by(*order).limit(page.limit).offset(page.offset))
        return list(rows.all())


async def visits_due(sessions: Sessions, page: queries.Page) -> list[Ticket]:
    """回访 desk: replied tickets that need a visit and have none yet, oldest reply first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(Ticket)
            .where(
                Ticket.status == State.FINISHED.value,
                Ticket.visit_required.is_(True),
                Ticket.visited.is_(False),
            )
            .order_by(Ticket.replied_at, Ticket.id)
            .limit(page.limit)
            .offset(page.offset)
        )
        return list(rows.all())


async def detail(
    sessions: Sessions, actor: loop.Actor, ticket_id: int, *, scoped: bool = True
) -> Detail:
    """``scoped=False`` only right after the actor's own step (a unit that returned a ticket
    is shown the result of its return, not the ticket from then on)."""
    async with sessions() as session:
        ticket = await session.get(Ticket, ticket_id)
        foreign = (
            actor.role is Role.UNIT and ticket is not None and ticket.lead_unit_id != actor.unit_id
        )
        if ticket is None or (scoped and foreign):
            raise loop.TicketNotFound(f"没有编号为 {ticket_id} 的工单")
        dups: list[duplicates.Candidate] = []
        if actor.role in (Role.DISPATCHER, Role.ADMIN) and ticket.status == State.ACCEPTED.value:
            dups = await duplicates.candidates(session, ticket)
        return Detail(
            ticket,
            await queries.units_of(session, ticket_id),
            await loop.history(session, ticket_id),
            dups,
            await attachment_store.of_ticket(session, ticket_id),
        )


async def step(
    sessions: Sessions,
    actor: loop.Actor,
    ticket_id: int,
    cmd: Command,
    calendar: WorkCalendar,
) -> Ticket:
    if cmd.action is lifecycle.Action.DECIDE_EXTENSION and cmd.approve and not cmd.extension_days:
        async with sessions() as session:
            asked = await session.scalar(
                select(Ticket.extension_days).where(Ticket.id == ticket_id)
            )
        cmd = replace(cmd, extension_days=asked or 0)  # approve what was asked for
    async with sessions() as session:
        return await loop.act(session, ticket_id, cmd, actor, calendar=calendar)


async def check_kb_entry(sessions: Sessions, entry_id: int) -> None:
    """A 直接答复 names a published 知识库 entry, or is refused (422)."""
    async with sessions() as session:
        if await kb.published_entry(session, entry_id) is None:
            raise BadArgument(f"没有编号为 {entry_id} 的已发布知识条目")


async def stats(
    sessions: Sessions, since: datetime, until: datetime, by: list[str]
) -> list[tstats.StatRow]:
    async with sessions() as session:
        return await tstats.breakdown(session, since, until, by)


async def clearance(sessions: Sessions, before: datetime) -> list[queries.ClearanceRow]:
    async with sessions() as session:
        return await queries.clearance(session, before, utcnow())
