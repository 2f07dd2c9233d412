"""The call centre's week: offered, answered, 15-s service level (GB/T 33358), abandons,
callbacks, 多援一 overflow per city, and calls per hour of the week (a heat map).

Calls are the records that entered in the period; the legs of callbacks (skill ``callback``)
are counted as callbacks, not as offered calls. Offered: reached a queue. Service level:
answered within 15 s of joining the queue, over answered + abandoned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

# Call-record models live in acd for now (the lead moves them into acd subpackages at merge).
from acd.callbacks.tables import CallbackAttempt
from acd.calls.tables import CallRecord
from reports.period import Week
from reports.sql import local_hour, local_weekday, ratio, seconds_between

SL_THRESHOLD_S = 15.0  # GB/T 33358: answered within 15 seconds


@dataclass(frozen=True, slots=True)
class CityCalls:
    city: str
    entered: int
    offered: int
    answered: int
    answered_in_sl: int
    abandoned: int
    service_level: float | None  # answered within 15 s / (answered + abandoned)
    abandon_rate: float | None  # abandoned / offered
    callbacks_made: int  # callback attempts started
    callbacks_connected: int
    overflow_out: int  # the city's callers answered by another city's seats
    overflow_in: int  # other cities' callers answered by this city's seats


@dataclass(frozen=True, slots=True)
class CallCentre:
    cities: list[CityCalls]
    total: CityCalls
    heat: list[list[int]]  # [weekday 0=Mon][hour 0..23]: offered calls


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _in_week(column: Any, week: Week) -> ColumnElement[bool]:
    return and_(column >= week.start, column < week.end)


async def _per_city(session: AsyncSession, week: Week, dialect: str) -> dict[str, dict[str, int]]:
    c = CallRecord
    queued = c.queued_at.is_not(None)
    answered = and_(c.answered_at.is_not(None), queued)
    waited = seconds_between(dialect, c.answered_at, c.queued_at)
    query = (
        select(
            c.city,
            func.count().label("entered"),
            _count(queued).label("offered"),
            _count(answered).label("answered"),
            _count(and_(answered, waited <= SL_THRESHOLD_S)).label("answered_in_sl"),
            _count(c.outcome == "abandoned").label("abandoned"),
        )
        .where(_in_week(c.entered_at, week), c.skill.is_distinct_from("callback"))
        .group_by(c.city)
    )
    return {r["city"]: dict(r) for r in (await session.execute(query)).mappings()}


async def _overflow(session: AsyncSession, week: Week, side: Any) -> dict[str, int]:
    c = CallRecord
    query = (
        select(side, func.count())
        .where(
            _in_week(c.entered_at, week),
            c.answered_at.is_not(None),
            c.answer_city.is_not(None),
            c.answer_city != c.city,
            c.skill.is_distinct_from("callback"),
        )
        .group_by(side)
    )
    return {str(k): int(n) for k, n in (await session.execute(query)).all()}


async def _callbacks(session: AsyncSession, week: Week) -> dict[str, tuple[int, int]]:
    a = CallbackAttempt
    query = (
        select(a.city, func.count(), _count(a.outcome == "connected"))
        .where(_in_week(a.started_at, week))
        .group_by(a.city)
    )
    return {city: (int(n), int(ok or 0)) for city, n, ok in (await session.execute(query)).all()}


async def _heat(session: AsyncSession, week: Week, dialect: str) -> list[list[int]]:
    c = CallRecord
    day = local_weekday(dialect, c.entered_at, week.utc_offset_s).label("day")
    hour = local_hour(dialect, c.entered_at, week.utc_offset_s).label("hour")
    query = (
        select(day, hour, func.count())
        .where(
            _in_week(c.entered_at, week),
            c.queued_at.is_not(None),
            c.skill.is_distinct_from("callback"),
        )
        .group_by(day, hour)
    )
    grid = [[0] * 24 for _ in range(7)]
    for d, h, n in (await session.execute(query)).all():
        grid[int(d)][int(h)] = int(n)
    return grid


def _city(city: str, base: dict[str, int], cb: tuple[int, int], out: int, in_: int) -> CityCalls:
    def n(key: str) -> int:
        return int(base.get(key) or 0)

    return CityCalls(
        city=city,
        entered=n("entered"),
        offered=n("offered"),
        answered=n("answered"),
        answered_in_sl=n("answered_in_sl"),
        abandoned=n("abandoned"),
        service_level=ratio(n("answered_in_sl"), n("answered") + n("abandoned")),
        abandon_rate=ratio(n("abandoned"), n("offered")),
        callbacks_made=cb[0],
        callbacks_connected=cb[1],
        overflow_out=out,
        overflow_in=in_,
    )


async def call_centre(session: AsyncSession, week: Week) -> CallCentre:
    dialect = session.get_bind().dialect.name
    base = await _per_city(session, week, dialect)
    out = await _overflow(session, week, CallRecord.city)
    in_ = await _overflow(session, week, CallRecord.answer_city)
    callbacks = await _callbacks(session, week)
    names = sorted(set(base) | set(out) | set(in_) | set(callbacks))
    cities = [
        _city(c, base.get(c, {}), callbacks.get(c, (0, 0)), out.get(c, 0), in_.get(c, 0))
        for c in names
    ]
    keys = ("entered", "offered", "answered", "answered_in_sl", "abandoned")
    summed = {k: sum(int(b.get(k) or 0) for b in base.values()) for k in keys}
    total = _city(
        "全部",
        summed,
        (sum(c.callbacks_made for c in cities), sum(c.callbacks_connected for c in cities)),
        sum(out.values()),
        sum(in_.values()),
    )
    return CallCentre(cities=cities, total=total, heat=await _heat(session, week, dialect))
