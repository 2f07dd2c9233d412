"""Return-visit calls in the database: asked for once, each attempt begun before it is dialled.

A request for a visit that exists (the same ticket, reply round and mode) returns that visit:
a double click or a retried request calls nobody a second time. An attempt is begun by a
conditional update (queued, with the attempt count the caller saw) committed before its
Originate, and ended by one conditional on its key, so two processes never run or record the
same attempt twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Update, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks.visit_tables import VisitCall

Sessions = async_sessionmaker[AsyncSession]

QUEUED, CALLING, DONE, DESK = "queued", "calling", "done", "desk"
CANCELLED = "cancelled"  # the reply was visited otherwise, or reopened, before the call
IVR, SEAT = "ivr", "seat"
# What the 回访台 reads for a visit call's state and its last attempt.
STATUS_LABELS = {
    QUEUED: "等待外呼",
    CALLING: "正在回访",
    DONE: "已回访",
    DESK: "转人工回访",
    CANCELLED: "已取消（工单已不需此次回访）",
}
OUTCOME_LABELS = {
    "answered": "已接听",
    "noanswer": "市民未接听",
    "busy": "市民忙线",
    "failed": "呼叫失败",
    "lost": "无法确认是否拨出",
    "refused": "号码不可外呼",
}
OUTCOME_OF_REASON = {3: "noanswer", 5: "busy"}
NO_ANSWER = "none"  # the citizen answered the phone but pressed no key


@dataclass(frozen=True)
class Retry:
    max_attempts: int
    backoff_s: float


async def request(
    sessions: Sessions,
    *,
    ticket_id: int,
    reply_round: int,
    mode: str,
    city: str,
    number: str,
    requested_by: str,
    at: datetime,
) -> tuple[VisitCall, bool]:
    """The visit of this ticket's reply in this mode: (row, True) if this call made it."""
    try:
        async with sessions.begin() as session:
            row = VisitCall(
                ticket_id=ticket_id,
                reply_round=reply_round,
                mode=mode,
                city=city,
                number=number,
                requested_by=requested_by,
                created_at=at,
            )
            session.add(row)
        return row, True
    except IntegrityError:
        pass
    async with sessions() as session:
        existing = await session.scalar(
            select(VisitCall).where(
                VisitCall.ticket_id == ticket_id,
                VisitCall.reply_round == reply_round,
                VisitCall.mode == mode,
            )
        )
    if existing is None:  # pragma: no cover - the unique row cannot vanish (no deletes)
        raise RuntimeError("visit call conflict without a row")
    return existing, False


async def due(sessions: Sessions, city: str, now: datetime, limit: int) -> list[VisitCall]:
    """Automated visits of the city whose next attempt may start, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(VisitCall)
            .where(VisitCall.city == city, VisitCall.status == QUEUED, VisitCall.mode == IVR)
            .where((VisitCall.next_attempt_at.is_(None)) | (VisitCall.next_attempt_at <= now))
            .order_by(VisitCall.created_at, VisitCall.id)
            .limit(limit)
        )
        return list(rows)


async def calling(sessions: Sessions, city: str) -> list[VisitCall]:
    """Attempts begun and not ended (what a restarted controller must settle)."""
    async with sessions() as session:
        rows = await session.scalars(
            select(VisitCall).where(
                VisitCall.city == city, VisitCall.status == CALLING, VisitCall.mode == IVR
            )
        )
        return list(rows)


async def begin(sessions: Sessions, visit: VisitCall, key: str, at: datetime) -> bool:
    """Claim the visit's next attempt under ``key``; False if another process has it."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(VisitCall)
            .where(
                VisitCall.id == visit.id,
                VisitCall.status == QUEUED,
                VisitCall.attempts == visit.attempts,
            )
            .values(status=CALLING, attempts=visit.attempts + 1, key=key, started_at=at)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


async def cancel(sessions: Sessions, visit_id: int, at: datetime) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(VisitCall)
            .where(VisitCall.id == visit_id, VisitCall.status == QUEUED)
            .values(status=CANCELLED, closed_at=at)
        )


def answered(visit_id: int, result: str, at: datetime) -> Update:
    """The update that records an answer of an attempt still running (run in the caller's
    transaction with the ticket's step: the visit and the ticket change together or not)."""
    return (
        update(VisitCall)
        .where(VisitCall.id == visit_id, VisitCall.status == CALLING)
        .values(
            status=DESK if result == NO_ANSWER else DONE,
            result=result,
            outcome="answered",
            closed_at=at,
        )
    )


async def failed(
    sessions: Sessions, visit_id: int, key: str, outcome: str, retry: Retry, at: datetime
) -> str | None:
    """End an attempt nobody answered: queued again after a backoff that doubles, or left to
    the 回访台 once the attempts ran out. The new status, or None if already ended."""
    async with sessions.begin() as session:
        row = await session.scalar(
            select(VisitCall)
            .where(VisitCall.id == visit_id, VisitCall.status == CALLING, VisitCall.key == key)
            .with_for_update()
        )
        if row is None:
            return None
        row.outcome = outcome
        if outcome in ("lost", "refused") or row.attempts >= retry.max_attempts:
            row.status, row.closed_at = DESK, at
        else:
            row.status = QUEUED
            row.next_attempt_at = at + timedelta(seconds=retry.backoff_s * 2 ** (row.attempts - 1))
        return row.status


async def handed_to_seat(
    sessions: Sessions, visit_id: int, task_id: int | None, at: datetime
) -> None:
    """A seat visit is run by the callback runner as task ``task_id`` (None: the number's
    callbacks for today are used up, so the desk calls by hand)."""
    async with sessions.begin() as session:
        await session.execute(
            update(VisitCall)
            .where(VisitCall.id == visit_id, VisitCall.status == QUEUED)
            .values(
                status=CALLING if task_id is not None else DESK,
                key=f"callback-{task_id}" if task_id is not None else None,
                started_at=at,
                attempts=1,
            )
        )


async def recent(sessions: Sessions, limit: int, offset: int) -> list[VisitCall]:
    async with sessions() as session:
        rows = await session.scalars(
            select(VisitCall).order_by(VisitCall.id.desc()).limit(limit).offset(offset)
        )
        return list(rows)


async def latest(sessions: Sessions, ticket_ids: Sequence[int]) -> dict[int, list[VisitCall]]:
    """Every visit call of these tickets, newest first: what the 回访台 shows."""
    if not ticket_ids:
        return {}
    async with sessions() as session:
        rows = await session.scalars(
            select(VisitCall)
            .where(VisitCall.ticket_id.in_(list(ticket_ids)))
            .order_by(VisitCall.id.desc())
        )
        out: dict[int, list[VisitCall]] = {}
        for row in rows:
            out.setdefault(row.ticket_id, []).append(row)
        return out
