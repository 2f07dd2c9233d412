"""What the dispatcher's wallboard reads: per city statistics, seats, links, callbacks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from sqlalchemy import select

from acd.callbacks.tables import CallbackAttempt, CallbackTask
from acd.queue.service import Acd
from acd.queue.stats import Stats
from acd.queue.types import Skill
from api import schemas as s
from api import views
from store import keys
from store.sessions import Sessions


async def seats_of_city(redis: Redis, city: str) -> list[s.SeatStateOut]:
    return [views.seat_state(seat) for seat in await Acd(redis).seats_of(city)]


async def queues(redis: Redis, city: str, now_ms: int) -> dict[str, list[s.WaitingOut]]:
    acd = Acd(redis)
    out = {}
    for skill in Skill:
        out[skill.value] = [
            s.WaitingOut(
                call_id=w.call_id,
                waited_s=round(max(0, now_ms - w.arrival_ms) / 1000, 1),
                priority=w.priority,
            )
            for w in await acd.waiting(city, skill, limit=50)
        ]
    return out


async def link_state(redis: Redis, city: str) -> dict[str, str]:
    client: Any = redis
    raw: dict[str, str] = await client.hgetall(keys.ami_link(city))
    return raw or {"state": "unknown"}


async def snapshots(redis: Redis, city: str, now_ms: int) -> dict[str, Any]:
    stats = Stats(redis)
    return {skill.value: (await stats.snapshot(city, skill, now_ms)).to_json() for skill in Skill}


async def minutes(
    redis: Redis, city: str, now_ms: int, count: int, tz: str = "Asia/Shanghai"
) -> list[s.MinuteOut]:
    """Per-minute offered / answered / abandoned over every skill, oldest first."""
    stats = Stats(redis, tz=tz)
    out = []
    for back in range(count - 1, -1, -1):
        at = now_ms - back * 60_000
        offered = answered = abandoned = 0
        for skill in Skill:
            w = await stats.window(city, skill, at, 1)
            offered, answered, abandoned = (
                offered + w.offered,
                answered + w.answered,
                abandoned + w.abandoned,
            )
        label = datetime.fromtimestamp(at / 1000, ZoneInfo(tz)).strftime("%H:%M")
        out.append(
            s.MinuteOut(minute=label, offered=offered, answered=answered, abandoned=abandoned)
        )
    return out


async def callback_tasks(
    sessions: Sessions, cities: Sequence[str] | None, status: str | None, limit: int
) -> list[CallbackTask]:
    """``cities``: only these cities' tasks; None: every city's."""
    query = select(CallbackTask)
    if cities is not None:
        query = query.where(CallbackTask.city.in_(list(cities)))
    if status:
        query = query.where(CallbackTask.status == status)
    query = query.order_by(CallbackTask.created_at.desc(), CallbackTask.id.desc()).limit(limit)
    async with sessions() as session:
        return list((await session.scalars(query)).all())


async def last_outcomes(sessions: Sessions, task_ids: list[int]) -> dict[int, str]:
    """Each task's latest finished attempt's outcome (callback_attempts)."""
    if not task_ids:
        return {}
    query = (
        select(CallbackAttempt.task_id, CallbackAttempt.outcome)
        .where(CallbackAttempt.task_id.in_(task_ids), CallbackAttempt.outcome.is_not(None))
        .order_by(CallbackAttempt.task_id, CallbackAttempt.attempt)
    )
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    return {task_id: outcome for task_id, outcome in rows if outcome}  # the last one wins


async def callback_task(sessions: Sessions, task_id: int) -> CallbackTask | None:
    async with sessions() as session:
        return await session.get(CallbackTask, task_id)


async def today(redis: Redis, city: str, now_ms: int, tz: str = "Asia/Shanghai") -> s.TodayOut:
    """Today's totals over every skill, from the same day counters acd.stats keeps; summed
    before dividing, so ASA and AHT are true averages over the city, not averages of skills."""
    total = await Stats(redis, tz=tz).day_totals(city, now_ms)
    answered, abandoned = total.get("answered", 0.0), total.get("abandoned", 0.0)
    handled = total.get("handled", 0.0)
    ended = answered + abandoned
    return s.TodayOut(
        offered=int(total.get("offered", 0.0)),
        answered=int(answered),
        abandoned=int(abandoned),
        abandon_rate=abandoned / ended if ended else None,
        asa_s=total.get("wait_sum", 0.0) / answered if answered else None,
        aht_s=total.get("handle_sum", 0.0) / handled if handled else None,
    )
