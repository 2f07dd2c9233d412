"""Repeat callers for 专报: numbers with three or more calls in the 30 days up to the end of
the period, the categories of their tickets, and their mood call by call (from the drafts)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from acd.calls.tables import CallRecord
from asr.draft.rules import load_rules
from asr.models import CallDraft
from store.privacy import mask_phone
from tickets.models import Ticket

WINDOW_DAYS = 30
MIN_CALLS = 3
LISTED = 50  # the most frequent callers are listed; all of them are counted


@dataclass(frozen=True, slots=True)
class RepeatCaller:
    number: str  # masked: 138****1234
    calls: int
    first_at: datetime
    last_at: datetime
    categories: list[tuple[str, int]]  # of the number's tickets in the window, most first
    moods: list[str]  # one per call with a draft, oldest first (平稳 → 生气 → 焦躁)
    mood_direction: str  # 加剧 / 缓和 / 平稳 (last against first by rank)


@dataclass(frozen=True, slots=True)
class RepeatCallers:
    since: datetime
    until: datetime
    count: int  # numbers with MIN_CALLS or more calls
    calls: int  # their calls
    listed: list[RepeatCaller]


@lru_cache(maxsize=1)
def _ranks() -> dict[str, int]:
    return load_rules().emotion_ranks


def direction(moods: list[str]) -> str:
    ranks = _ranks()
    if len(moods) < 2:
        return "平稳"
    first, last = ranks.get(moods[0], 1), ranks.get(moods[-1], 1)
    return "加剧" if last > first else "缓和" if last < first else "平稳"


def _calls(since: datetime, until: datetime) -> tuple[ColumnElement[bool], ...]:
    c = CallRecord
    return (
        c.entered_at >= since,
        c.entered_at < until,
        c.caller_num != "",
        c.skill.is_distinct_from("callback"),
    )


async def repeat_callers(session: AsyncSession, until: datetime) -> RepeatCallers:
    since = until - timedelta(days=WINDOW_DAYS)
    c = CallRecord
    n = func.count().label("n")
    grouped = (
        select(
            c.caller_num,
            n,
            func.min(c.entered_at).label("first_at"),
            func.max(c.entered_at).label("last_at"),
        )
        .where(*_calls(since, until))
        .group_by(c.caller_num)
        .having(func.count() >= MIN_CALLS)
        .subquery()
    )
    # One pass over the window's calls: the totals ride along each listed row as window
    # aggregates over every repeat number, instead of a second GROUP BY for them.
    g = grouped.c
    ranked = select(
        g.caller_num, g.n, g.first_at, g.last_at, func.count().over(), func.sum(g.n).over()
    ).order_by(g.n.desc(), g.caller_num)
    rows = (await session.execute(ranked.limit(LISTED))).all()
    count, calls = (int(rows[0][4]), int(rows[0][5])) if rows else (0, 0)
    top = [(number, k, first, last) for number, k, first, last, _, _ in rows]
    numbers = [row[0] for row in top]
    categories: dict[str, list[tuple[str, int]]] = defaultdict(list)
    moods: dict[str, list[str]] = defaultdict(list)
    if numbers:
        cat_rows = await session.execute(
            select(Ticket.caller_number, Ticket.category, func.count())
            .where(
                Ticket.caller_number.in_(numbers),
                Ticket.accepted_at >= since,
                Ticket.accepted_at < until,
            )
            .group_by(Ticket.caller_number, Ticket.category)
            .order_by(Ticket.caller_number, func.count().desc(), Ticket.category)
        )
        for number, category, k in cat_rows.all():
            categories[number].append((category, int(k)))
        mood_rows = await session.execute(
            select(c.caller_num, CallDraft.draft["emotion"].as_string())
            .join(CallDraft, CallDraft.call_id == c.call_id)
            .where(*_calls(since, until), c.caller_num.in_(numbers))
            .order_by(c.caller_num, c.entered_at, c.id)
        )
        for number, mood in mood_rows.all():
            if mood:
                moods[number].append(mood)
    listed = [
        RepeatCaller(
            number=mask_phone(number),
            calls=int(k),
            first_at=first,
            last_at=last,
            categories=categories[number],
            moods=moods[number],
            mood_direction=direction(moods[number]),
        )
        for number, k, first, last in top
    ]
    return RepeatCallers(since, until, int(count), int(calls), listed)
