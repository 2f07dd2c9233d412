"""回访台: start a return-visit call of a replied ticket, and what became of the calls.

The ticket says whom to call for which reply (tickets.visits); the call is acd's: an automated
visit is queued for the city's controller (acd.callbacks.visits), a seat visit becomes a callback
task, so the callback runner rings a ready seat first and then the citizen, exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks import tasks as callbacks
from acd.callbacks import visit_store as store
from acd.callbacks.visit_tables import VisitCall
from acd.queue.types import Skill
from store.base import utcnow
from tickets.visits import BY_KEY, visit_target

Sessions = async_sessionmaker[AsyncSession]
OUTCOME_LABELS = store.OUTCOME_LABELS
RESULT_LABELS = {**{k: v.value for k, v in BY_KEY.items()}, store.NO_ANSWER: "未按键"}


def status_label(v: VisitCall) -> str:
    if v.mode == store.SEAT and v.status == store.CALLING:
        return "已转坐席回拨"
    return store.STATUS_LABELS.get(v.status, v.status)


async def start(
    sessions: Sessions,
    ticket_id: int,
    mode: str,
    city: str,
    who: str,
    seat_id: str | None = None,
) -> tuple[VisitCall, bool]:
    """The visit call of the ticket's current reply in this mode: (row, created now). A seat
    visit asked by a seat rings that seat's own phone first (``seat_id``); asked by anyone
    else, the first ready seat of the 回访/回拨 desk."""
    async with sessions() as session:
        target = await visit_target(session, ticket_id)
    now = utcnow()
    row, created = await store.request(
        sessions,
        ticket_id=ticket_id,
        reply_round=target.reply_round,
        mode=mode,
        city=city,
        number=target.number,
        requested_by=who,
        at=now,
    )
    if created and mode == store.SEAT:
        task = await callbacks.create(
            sessions,
            number=target.number,
            city=city,
            skill=Skill.callback.value,
            source="visit",
            call_id=None,
            waited_s=0.0,
            at=now,
            seat_id=seat_id,
        )
        await store.handed_to_seat(sessions, row.id, task.id if task else None, now)
        row.status = store.CALLING if task else store.DESK
    return row, created


async def recent(sessions: Sessions, limit: int, offset: int) -> list[VisitCall]:
    return await store.recent(sessions, limit, offset)


async def of_tickets(sessions: Sessions, ticket_ids: Sequence[int]) -> dict[int, list[VisitCall]]:
    return await store.latest(sessions, ticket_ids)
