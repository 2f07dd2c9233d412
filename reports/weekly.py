"""The weekly report (周报): every section, built from one session over one ISO week."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from reports.callers import RepeatCallers, repeat_callers
from reports.calls import CallCentre, call_centre
from reports.period import Week
from reports.topics import HotTopics, hot_topics
from reports.units import UnitFigures, red_black, unit_figures
from tickets.models import Ticket

TOP_N = 10


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    week: str
    first_day: str
    last_day: str
    generated_at: datetime
    tickets_accepted: int
    tickets_previous: int  # the week before
    topics: HotTopics
    units: list[UnitFigures]
    red: list[UnitFigures]
    black: list[UnitFigures]
    calls: CallCentre
    callers: RepeatCallers

    def to_json(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat(timespec="seconds")
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            return value

        return dict(plain(dataclasses.asdict(self)))


async def _accepted(session: AsyncSession, week: Week) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                Ticket.accepted_at >= week.start,
                Ticket.accepted_at < week.end,
                Ticket.merged_into_id.is_(None),
            )
        )
        or 0
    )


async def build_weekly(session: AsyncSession, week: Week, top_n: int = TOP_N) -> WeeklyReport:
    units = await unit_figures(session, week.start, week.end)
    red, black = red_black(units, top_n)
    return WeeklyReport(
        week=week.label,
        first_day=week.first_day.isoformat(),
        last_day=week.last_day.isoformat(),
        generated_at=datetime.now(UTC),
        tickets_accepted=await _accepted(session, week),
        tickets_previous=await _accepted(session, week.shifted(-1)),
        topics=await hot_topics(session, week),
        units=units,
        red=red,
        black=black,
        calls=await call_centre(session, week),
        callers=await repeat_callers(session, week.end),
    )


def headline(report: WeeklyReport) -> str:
    """One sentence for the top of the report."""
    total = report.calls.total
    sl = f"{total.service_level:.1%}" if total.service_level is not None else "—"
    change = report.tickets_accepted - report.tickets_previous
    rising = next((c for c in report.topics.categories if c.rise > 0), None)
    text = (
        f"本周（{report.first_day} 至 {report.last_day}）受理工单 {report.tickets_accepted} 件，"
        f"较上周{'增加' if change >= 0 else '减少'} {abs(change)} 件；"
        f"呼入 {total.offered} 个，接通 {total.answered} 个，15 秒服务水平 {sl}。"
    )
    if rising is not None:
        text += f"上升最多的类别是「{rising.category}」（本周 {rising.this_week} 件）。"
    return text


def report_json(report: WeeklyReport) -> dict[str, Any]:
    """What the page and the documents render: the report and its headline."""
    return {**report.to_json(), "headline": headline(report)}
