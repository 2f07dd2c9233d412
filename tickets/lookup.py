"""Citizen status lookup (no login): a ticket number and the last four digits of the phone
number it was filed from give a read-only view without anyone's personal data."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.lifecycle import State
from tickets.models import Ticket, Unit

_NUMBER = re.compile(r"\d{8,20}")
_LAST4 = re.compile(r"\d{4}")
# What a citizen is told of each state: plain words, no internal steps.
PUBLIC_STATE = {
    State.ACCEPTED: "已受理",
    State.DISPATCHED: "已转交承办单位",
    State.IN_PROGRESS: "办理中",
    State.RETURNED: "办理中",
    State.FINISHED: "已办结",
    State.VISITED: "已办结",
    State.REVIEW: "办理中",
    State.CLOSED: "已办结",
}


class LookupRefused(ValueError):
    """Malformed input; the same answer as not found, so numbers cannot be probed."""


@dataclass(frozen=True)
class PublicStatus:
    number: str
    status: str
    category: str
    accepted_at: datetime
    due_at: datetime
    unit: str | None
    reply: str | None


async def lookup(session: AsyncSession, number: str, last4: str) -> PublicStatus | None:
    if not _NUMBER.fullmatch(number) or not _LAST4.fullmatch(last4):
        raise LookupRefused("工单编号或手机号后四位格式不正确")
    row = (
        await session.execute(
            select(Ticket, Unit.name)
            .outerjoin(Unit, Unit.id == Ticket.lead_unit_id)
            .where(Ticket.number == number)
        )
    ).first()
    if row is None:
        return None
    ticket, unit = row
    # compare_digest: the answer time does not tell how many digits matched
    if not hmac.compare_digest(ticket.caller_number[-4:].encode(), last4.encode()):
        return None
    state = State(ticket.status)
    finished = state in (State.FINISHED, State.VISITED, State.CLOSED)
    return PublicStatus(
        number=ticket.number or number,
        status=PUBLIC_STATE[state],
        category=ticket.category,
        accepted_at=ticket.accepted_at,
        due_at=ticket.due_at,
        unit=unit,
        reply=ticket.reply if finished else None,
    )
