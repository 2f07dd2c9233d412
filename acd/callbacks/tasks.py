"""漏话回拨: callback tasks, created when a caller gave up waiting or asked to be called back.

A task is committed to the database before anything else happens, so a crash never loses
one. One open task per number (a unique partial index); a later answered call from the same
number cancels its open tasks; a number gets at most ``daily_limit`` tasks a day.
Calling back (agent first, then the citizen) is acd.callbacks.runner.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks.tables import CallbackTask

Sessions = async_sessionmaker[AsyncSession]
DAILY_LIMIT = 3  # tasks a day per number, unless the caller says otherwise


def _open(number: str) -> Select[CallbackTask]:
    return select(CallbackTask).where(CallbackTask.number == number, CallbackTask.status == "open")


def _day_start(at: datetime, tz: str) -> datetime:
    local = at.astimezone(ZoneInfo(tz))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


async def create(
    sessions: Sessions,
    *,
    number: str,
    city: str,
    skill: str,
    source: str,
    call_id: str | None,
    waited_s: float,
    at: datetime,
    daily_limit: int = DAILY_LIMIT,
    tz: str = "Asia/Shanghai",
    seat_id: str | None = None,
) -> CallbackTask | None:
    """The open task for the number (new or existing), or None when there is nothing to do:
    no number (withheld), or the day's limit reached. ``seat_id`` names the one seat that
    must ring first (a seat's own click on the 回访台); an existing open task keeps its own."""
    if not number:
        return None
    start = _day_start(at, tz)
    async with sessions.begin() as session:
        existing = await session.scalar(_open(number))
        if existing is not None:
            return existing
        today = await session.scalar(
            select(func.count())
            .select_from(CallbackTask)
            .where(
                CallbackTask.number == number,
                CallbackTask.created_at >= start,
                CallbackTask.created_at < start + timedelta(days=1),
            )
        )
        if (today or 0) >= daily_limit:
            return None
        task = CallbackTask(
            number=number,
            city=city,
            skill=skill,
            source=source,
            call_id=call_id,
            waited_s=waited_s,
            created_at=at,
            seat_id=seat_id,
        )
        session.add(task)
        try:
            await session.flush()
        except IntegrityError:
            # Another controller wrote the open task for this number a moment earlier.
            await session.rollback()
            return await open_task(sessions, number)
    return task


async def create_for_call(
    sessions: Sessions,
    *,
    call_id: str,
    number: str,
    city: str,
    skill: str,
    source: str,
    waited_s: float,
    at: datetime,
    daily_limit: int = DAILY_LIMIT,
) -> CallbackTask | None:
    """``create``, once per call: None when the call already has a task, whatever its
    status. A write replayed after the database came back (store.outbox) may have committed
    before the connection dropped, and a call the journal replays may have had its task
    from the live path; the task may be called back and closed since, and the same call
    must not open a second one."""
    if await for_call(sessions, call_id):
        return None
    return await create(
        sessions,
        number=number,
        city=city,
        skill=skill,
        source=source,
        call_id=call_id,
        waited_s=waited_s,
        at=at,
        daily_limit=daily_limit,
    )


async def open_task(sessions: Sessions, number: str) -> CallbackTask | None:
    async with sessions() as session:
        return await session.scalar(_open(number))


async def for_call(sessions: Sessions, call_id: str) -> bool:
    """Whether a task (in any state) was made for this call."""
    async with sessions() as session:
        found = await session.scalar(
            select(CallbackTask.id).where(CallbackTask.call_id == call_id).limit(1)
        )
        return found is not None


async def cancel_for_number(sessions: Sessions, number: str, at: datetime) -> int:
    """The citizen got through at ``at``: the open tasks opened until then are no longer
    needed. One opened later (the citizen called again and gave up) is not touched, so a
    cancel replayed after a database outage (store.outbox) cancels only what it would have
    cancelled then."""
    if not number:
        return 0
    async with sessions.begin() as session:
        result = await session.execute(
            update(CallbackTask)
            .where(CallbackTask.number == number, CallbackTask.status == "open")
            .where(CallbackTask.created_at <= at)
            .values(status="cancelled", closed_at=at)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def count(
    sessions: Sessions, status: str | None = None, since: datetime | None = None
) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(CallbackTask)
        if status is not None:
            query = query.where(CallbackTask.status == status)
        if since is not None:
            query = query.where(CallbackTask.created_at >= since)
        return int(await session.scalar(query) or 0)
