"""The closed loop on the database: apply a lifecycle step to a ticket, with its audit event.

One function, :func:`act`, takes every step; the rules are :mod:`tickets.lifecycle`'s, this
module only reads the row into facts, writes the step back, computes deadlines on the
working-day calendar and scopes a unit's users to their own unit's tickets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import utcnow
from tickets.lifecycle import (
    Action,
    Command,
    Facts,
    LifecycleError,
    Role,
    State,
    Step,
    decide,
)
from tickets.models import Ticket, TicketEvent, TicketUnit, Unit
from tickets.workdays import CITY_TZ, WorkCalendar, due_at

SIGN_WINDOW_DAYS = 1  # 签收: one working day, general and 政企通 alike
LEAD, ASSIST = "主办", "协办"


class TicketNotFound(LifecycleError):
    """No such ticket, or one outside the acting unit's scope (the same answer for both)."""

    code = "ticket_not_found"


class UnknownUnit(LifecycleError):
    code = "ticket_unknown_unit"


@dataclass(frozen=True)
class Actor:
    name: str
    role: Role
    unit_id: int | None = None  # set for users of the `unit` role


@dataclass(frozen=True)
class VisitPolicy:
    """Which tickets get a return visit: every 政企通 one, and a share of the others."""

    share: float = 0.3
    max_reopens: int = 1

    def required(self, ticket_number: str, enterprise: bool) -> bool:
        if enterprise:
            return True
        # Stable per ticket (a restart does not re-draw), spread evenly over numbers.
        digest = hashlib.sha256(ticket_number.encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < self.share


def facts_of(ticket: Ticket, now: datetime, policy: VisitPolicy) -> Facts:
    state = State(ticket.status)
    sign_late = (
        state is State.DISPATCHED and ticket.sign_due_at is not None and now > ticket.sign_due_at
    )
    return Facts(
        state=state,
        visit_required=ticket.visit_required,
        visited=ticket.visited,
        extension_pending=ticket.extension_days > 0,
        reopen_count=ticket.reopen_count,
        returns=ticket.returns,
        overdue=sign_late or (state in _RUNNING and now > ticket.due_at),
        max_reopens=policy.max_reopens,
    )


_RUNNING = frozenset({State.DISPATCHED, State.IN_PROGRESS, State.RETURNED})


def after_workdays(deadline: datetime, days: int, calendar: WorkCalendar, tz: ZoneInfo) -> datetime:
    """A deadline at close of business moved on by whole working days."""
    # One second before close of business counts that day as the start, not the next one.
    return due_at(deadline - timedelta(seconds=1), days, calendar, tz)


async def act(
    session: AsyncSession,
    ticket_id: int,
    cmd: Command,
    actor: Actor,
    *,
    now: datetime | None = None,
    calendar: WorkCalendar | None = None,
    tz: ZoneInfo = CITY_TZ,
    policy: VisitPolicy | None = None,
    commit: bool = True,
) -> Ticket:
    """Apply one step; raises a :class:`LifecycleError` subclass and writes nothing if refused.
    ``commit=False``: the caller adds what belongs with the step (a reply's attachments) and
    commits, still holding the ticket's row lock."""
    if cmd.role is not actor.role:
        raise LifecycleError("command role and actor role differ")
    now = now or utcnow()
    cal, pol = calendar or WorkCalendar(), policy or VisitPolicy()
    ticket = await session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    if ticket is None or (actor.role is Role.UNIT and ticket.lead_unit_id != actor.unit_id):
        raise TicketNotFound(f"没有编号为 {ticket_id} 的工单")
    before = ticket.status
    # A refusal below raises before anything is flushed; the caller's session scope ends the
    # transaction (and the row lock) as it does for any error.
    step = decide(facts_of(ticket, now, pol), cmd)
    if cmd.action is Action.DISPATCH:
        await _assign(session, ticket, cmd.units)
        ticket.sign_due_at = due_at(now, SIGN_WINDOW_DAYS, cal, tz)
    elif cmd.action is Action.MERGE:
        await _merge_target(session, ticket, cmd.into)
    _apply(ticket, cmd, step, now, cal, tz)
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            action=cmd.action.value,
            from_state=before,
            to_state=ticket.status,
            actor=actor.name,
            role=actor.role.value,
            unit_id=actor.unit_id,
            reason=cmd.reason,
            detail=_detail(cmd, step),
            at=now,
        )
    )
    if commit:
        await session.commit()
    return ticket


async def _assign(session: AsyncSession, ticket: Ticket, units: tuple[int, ...]) -> None:
    found = set((await session.scalars(select(Unit.id).where(Unit.id.in_(units)))).all())
    missing = [u for u in units if u not in found]
    if missing:
        raise UnknownUnit(f"没有这些承办单位: {missing}")
    await session.execute(delete(TicketUnit).where(TicketUnit.ticket_id == ticket.id))
    for i, unit_id in enumerate(units):
        session.add(
            TicketUnit(ticket_id=ticket.id, unit_id=unit_id, role=LEAD if i == 0 else ASSIST)
        )
    ticket.lead_unit_id = units[0]


async def _merge_target(session: AsyncSession, ticket: Ticket, into: int | None) -> None:
    target = await session.get(Ticket, into) if into is not None else None
    if target is None or target.id == ticket.id or target.status == State.CLOSED.value:
        raise TicketNotFound("合并的目标工单不存在或已销号")
    ticket.merged_into_id = target.id


def _apply(
    ticket: Ticket, cmd: Command, step: Step, now: datetime, cal: WorkCalendar, tz: ZoneInfo
) -> None:
    facts = step.facts
    ticket.status = facts.state.value
    ticket.visited = facts.visited
    ticket.returns = facts.returns
    ticket.reopen_count = facts.reopen_count
    ticket.updated_at = now
    action = cmd.action
    if action is Action.SIGN:
        ticket.signed_at = now
    elif action is Action.RETURN:
        ticket.lead_unit_id, ticket.signed_at, ticket.sign_due_at = None, None, None
    elif action is Action.REQUEST_EXTENSION:
        ticket.extension_days, ticket.extension_reason = cmd.extension_days, cmd.reason
    elif action in (Action.REPLY, Action.DIRECT_ANSWER):
        ticket.reply, ticket.replied_at = cmd.reason, now
        ticket.direct_answer = action is Action.DIRECT_ANSWER
        ticket.kb_entry_id = cmd.kb_entry if action is Action.DIRECT_ANSWER else None
    elif action is Action.VISIT and cmd.satisfaction is not None:
        ticket.satisfaction = cmd.satisfaction.value
    elif action is Action.SUPERVISE:
        ticket.supervised += 1
    elif action in (Action.CLOSE, Action.MERGE):
        ticket.closed_at = now
    if not facts.extension_pending:
        ticket.extension_days, ticket.extension_reason = 0, None
    if step.move_deadline_days:
        ticket.due_at = after_workdays(ticket.due_at, step.move_deadline_days, cal, tz)
    if step.new_deadline:
        ticket.due_at = due_at(now, ticket.tier_days, cal, tz)


def _detail(cmd: Command, step: Step) -> dict[str, object]:
    detail: dict[str, object] = {}
    if cmd.units:
        detail["units"] = list(cmd.units)
    if cmd.action is Action.REQUEST_EXTENSION:
        detail["extension_days"] = cmd.extension_days
    if cmd.action is Action.DECIDE_EXTENSION:
        detail["approved"] = bool(cmd.approve)
        detail["moved_days"] = step.move_deadline_days
    if cmd.satisfaction is not None and cmd.action is Action.VISIT:
        detail["satisfaction"] = cmd.satisfaction.value
    if step.reopened:
        detail["reopened"] = True
    if cmd.action is Action.MERGE:
        detail["into"] = cmd.into
    if cmd.kb_entry is not None and cmd.action is Action.DIRECT_ANSWER:
        detail["kb_entry"] = cmd.kb_entry
    return detail


async def history(session: AsyncSession, ticket_id: int) -> list[TicketEvent]:
    rows = await session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    )
    return list(rows.all())
