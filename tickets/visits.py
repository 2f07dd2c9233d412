"""What the return-visit calls need of a ticket: whom to call for which reply, and the answer.

A visit is of one reply: ``reply_round`` is the ticket's reopen count when the visit was asked
for. An answer that arrives after the ticket moved on (a seat visited it first, or it was
reopened and replied again) is refused, so an old visit never settles a new reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.lifecycle import Action, Command, Role, Satisfaction, State, WrongState
from tickets.loop import Actor, TicketNotFound, act
from tickets.models import Ticket

AUTOMATED = Actor("自动语音回访", Role.SYSTEM)
BY_KEY = {"1": Satisfaction.SATISFIED, "2": Satisfaction.BASICALLY, "3": Satisfaction.UNSATISFIED}


@dataclass(frozen=True)
class VisitTarget:
    ticket_id: int
    number: str  # the caller's phone: personal data
    reply_round: int


async def visit_target(session: AsyncSession, ticket_id: int) -> VisitTarget:
    """The ticket's reply waiting for a visit; WrongState if there is none to visit now."""
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketNotFound(f"没有编号为 {ticket_id} 的工单")
    if ticket.status != State.FINISHED.value or ticket.visited:
        raise WrongState(f"工单当前状态为{ticket.status}，不能回访")
    return VisitTarget(ticket.id, ticket.caller_number, ticket.reopen_count)


async def record_visit(
    session: AsyncSession,
    ticket_id: int,
    reply_round: int,
    satisfaction: Satisfaction,
    actor: Actor = AUTOMATED,
    *,
    now: datetime | None = None,
) -> Ticket:
    """The citizen's answer as the ticket's 回访 step (committed by ``act``)."""
    rounds = await session.scalar(select(Ticket.reopen_count).where(Ticket.id == ticket_id))
    if rounds is None:
        raise TicketNotFound(f"没有编号为 {ticket_id} 的工单")
    if rounds != reply_round:
        raise WrongState("该回访针对的办结已被重办，结果不再适用")
    cmd = Command(Action.VISIT, actor.role, reason="自动语音回访", satisfaction=satisfaction)
    return await act(session, ticket_id, cmd, actor, now=now)
