"""Ticket statistics over a period, grouped by any of a few dimensions (channel first of them):
how many tickets were accepted, how many were answered at once by the seat (直接答复), and how
many of those from the 政策知识库. Reports group by the same dimensions through ``breakdown``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from tickets.models import Ticket

DIMENSIONS: dict[str, InstrumentedAttribute[str]] = {
    "channel": Ticket.channel,
    "category": Ticket.category,
    "status": Ticket.status,
    "request_type": Ticket.request_type,
}


class UnknownDimension(ValueError):
    pass


@dataclass(frozen=True)
class StatRow:
    group: dict[str, str]  # dimension -> value, e.g. {"channel": "web"}
    total: int
    direct_answers: int  # 直接答复
    kb_answers: int  # 直接答复 from a 知识库 entry

    @property
    def direct_answer_rate(self) -> float:
        """直接答复率: the share of the group's tickets the seat answered at once."""
        return self.direct_answers / self.total if self.total else 0.0


async def breakdown(
    session: AsyncSession, since: datetime, until: datetime, by: Sequence[str] = ("channel",)
) -> list[StatRow]:
    """Tickets accepted in [since, until), per group of ``by`` (none: one row for all)."""
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise UnknownDimension(f"unknown dimension {unknown[0]!r}; one of {', '.join(DIMENSIONS)}")
    cols = [DIMENSIONS[d] for d in by]
    direct = func.sum(case((Ticket.direct_answer.is_(True), 1), else_=0))
    kb = func.sum(
        case((Ticket.direct_answer.is_(True) & Ticket.kb_entry_id.is_not(None), 1), else_=0)
    )
    query = (
        select(*cols, func.count(Ticket.id), direct, kb)
        .where(Ticket.accepted_at >= since, Ticket.accepted_at < until)
        .group_by(*cols)
        .order_by(func.count(Ticket.id).desc(), *cols)
    )
    rows = (await session.execute(query)).all()
    n = len(cols)
    return [
        StatRow(
            {d: str(v) for d, v in zip(by, row[:n], strict=True)},
            int(row[n]),
            int(row[n + 1] or 0),
            int(row[n + 2] or 0),
        )
        for row in rows
        if int(row[n])
    ]
