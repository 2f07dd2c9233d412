"""比对查重: open tickets that a new one may repeat — the same caller, the same place, or much
the same words within a window — offered to the dispatcher for merging, best match first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.lifecycle import OPEN_STATES
from tickets.models import Ticket

WINDOW_DAYS = 30
TEXT_THRESHOLD = 0.35  # bigram Jaccard above which two summaries say the same thing
_SCAN_LIMIT = 500


@dataclass(frozen=True)
class Candidate:
    ticket: Ticket
    score: float
    reasons: tuple[str, ...]  # 同一来电人 / 同一地点 / 内容相似


def _bigrams(text: str) -> set[str]:
    # Chinese has no spaces: character pairs compare two summaries without a tokenizer's
    # dictionary, and ignore the separators the draft builder puts between fields.
    chars = [c for c in text if c.isalnum()]
    return {a + b for a, b in pairwise(chars)}


def similarity(a: str, b: str) -> float:
    x, y = _bigrams(a), _bigrams(b)
    if not x or not y:
        return 0.0
    return len(x & y) / len(x | y)


async def candidates(
    session: AsyncSession, ticket: Ticket, *, days: int = WINDOW_DAYS, limit: int = 5
) -> list[Candidate]:
    since = ticket.accepted_at - timedelta(days=days)
    same = [Ticket.caller_number == ticket.caller_number, Ticket.category == ticket.category]
    if ticket.location:
        same.append(Ticket.location == ticket.location)
    rows = await session.scalars(
        select(Ticket)
        .where(
            Ticket.id != ticket.id,
            Ticket.status.in_([s.value for s in OPEN_STATES]),
            Ticket.accepted_at >= since,
            or_(*same),
        )
        .order_by(Ticket.accepted_at.desc())
        .limit(_SCAN_LIMIT)
    )
    out: list[Candidate] = []
    for other in rows.all():
        reasons, score = [], 0.0
        if other.caller_number == ticket.caller_number:
            reasons.append("同一来电人")
            score += 0.4
        if ticket.location and other.location == ticket.location:
            reasons.append("同一地点")
            score += 0.3
        text = similarity(ticket.summary, other.summary)
        if text >= TEXT_THRESHOLD:
            reasons.append("内容相似")
            score += text
        # The same caller about something else is not a duplicate: words or place must agree.
        if "内容相似" in reasons or "同一地点" in reasons:
            out.append(Candidate(other, round(score, 3), tuple(reasons)))
    out.sort(key=lambda c: (-c.score, -c.ticket.id))
    return out[:limit]
