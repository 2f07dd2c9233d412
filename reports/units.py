"""红黑榜: the units' figures for the tickets whose deadline fell in the period, and a score.

The cohort of a unit is the tickets it led (主办) whose handling deadline (due_at) fell in the
period: each ticket is judged once, when it is due, and every one of them is due by the end of
the period. The score and its weights are documented in docs/reports.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from reports.sql import ratio
from tickets.lifecycle import Satisfaction
from tickets.models import Ticket, Unit

# Weight of each figure in the score (they add up to 1); a figure with no denominator (no
# return visit yet) is left out and the others scale up.
WEIGHTS = {
    "signed_on_time": 0.15,
    "finished_on_time": 0.30,
    "satisfaction": 0.30,
    "not_reopened": 0.15,
    "not_returned": 0.10,
}
MIN_TICKETS = 5  # fewer due tickets than this: listed, not ranked (a ratio of two says little)


@dataclass(frozen=True, slots=True)
class UnitFigures:
    unit_id: int
    unit: str
    level: str
    tickets: int  # due in the period
    sign_due: int
    signed_on_time: int
    finished_on_time: int
    overdue: int  # not replied by the deadline
    visited: int
    satisfied: int  # 满意 + 基本满意
    returns: int  # 退单, summed
    reopened: int  # tickets reopened (重办) at least once
    signed_on_time_pct: float | None
    finished_on_time_pct: float | None
    satisfaction_pct: float | None
    returns_per_ticket: float
    reopened_pct: float
    score: float
    ranked: bool


def score(parts: dict[str, float | None]) -> float:
    """Weighted mean of the figures present, 0..100."""
    present = {k: v for k, v in parts.items() if v is not None}
    total = sum(WEIGHTS[k] for k in present)
    return round(100 * sum(WEIGHTS[k] * v for k, v in present.items()) / total, 2)


def _one(row: dict[str, Any]) -> UnitFigures:
    def n(key: str) -> int:
        return int(row[key] or 0)

    tickets = n("tickets")
    signed = ratio(n("signed_on_time"), n("sign_due"))
    finished = ratio(n("finished_on_time"), tickets)
    satisfaction = ratio(n("satisfied"), n("visited"))
    per_ticket = n("returns") / tickets
    reopened = n("reopened") / tickets
    return UnitFigures(
        unit_id=n("unit_id"),
        unit=str(row["unit"]),
        level=str(row["level"]),
        tickets=tickets,
        sign_due=n("sign_due"),
        signed_on_time=n("signed_on_time"),
        finished_on_time=n("finished_on_time"),
        overdue=tickets - n("finished_on_time"),
        visited=n("visited"),
        satisfied=n("satisfied"),
        returns=n("returns"),
        reopened=n("reopened"),
        signed_on_time_pct=signed,
        finished_on_time_pct=finished,
        satisfaction_pct=satisfaction,
        returns_per_ticket=per_ticket,
        reopened_pct=reopened,
        score=score(
            {
                "signed_on_time": signed,
                "finished_on_time": finished,
                "satisfaction": satisfaction,
                "not_reopened": 1 - reopened,
                "not_returned": max(0.0, 1 - per_ticket),
            }
        ),
        ranked=tickets >= MIN_TICKETS,
    )


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


async def unit_figures(session: AsyncSession, start: datetime, end: datetime) -> list[UnitFigures]:
    """Every unit with a ticket due in [start, end), best score first."""
    t = Ticket
    query = (
        select(
            t.lead_unit_id.label("unit_id"),
            Unit.name.label("unit"),
            Unit.level.label("level"),
            func.count().label("tickets"),
            _count(t.sign_due_at.is_not(None)).label("sign_due"),
            _count(and_(t.signed_at.is_not(None), t.signed_at <= t.sign_due_at)).label(
                "signed_on_time"
            ),
            _count(and_(t.replied_at.is_not(None), t.replied_at <= t.due_at)).label(
                "finished_on_time"
            ),
            _count(t.satisfaction.is_not(None)).label("visited"),
            _count(t.satisfaction.in_((Satisfaction.SATISFIED, Satisfaction.BASICALLY))).label(
                "satisfied"
            ),
            func.sum(t.returns).label("returns"),
            _count(t.reopen_count > 0).label("reopened"),
        )
        .join(Unit, Unit.id == t.lead_unit_id)
        .where(t.due_at >= start, t.due_at < end, t.merged_into_id.is_(None))
        .group_by(t.lead_unit_id, Unit.name, Unit.level)
    )
    rows = (await session.execute(query)).mappings().all()
    figures = [_one(dict(r)) for r in rows]
    return sorted(figures, key=lambda f: (-f.score, -f.tickets, f.unit))


def red_black(
    figures: list[UnitFigures], top_n: int
) -> tuple[list[UnitFigures], list[UnitFigures]]:
    """红榜 (the best N ranked units) and 黑榜 (the worst N, worst first), never overlapping."""
    ranked = [f for f in figures if f.ranked]
    red = ranked[:top_n]
    black = [f for f in reversed(ranked[len(red) :])][:top_n]
    return red, black
