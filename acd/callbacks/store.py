"""Callback attempts in the database: begun before the Originate, closed exactly once.

An attempt row (task, attempt number, idempotency key) is committed before its Originate is
sent; the unique (task, attempt) and key make a second process fail to begin the same attempt.
Closing is conditional on the attempt still being open, so two processes that both see the
end of a call record it once. The task's status follows: connected; failed after
``max_attempts`` attempts that rang the citizen; else open, with the next attempt after a
backoff that doubles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks.tables import CallbackAttempt, CallbackTask

Sessions = async_sessionmaker[AsyncSession]

# Attempts that rang the citizen count against the limit; the others (the seat did not pick
# up, Asterisk never ran it) are retried at once with another seat.
COUNTED = frozenset({"connected", "noanswer", "busy", "failed"})
RETRY_SOON_S = 10.0
# Originate's Reason 0 (or 1): Asterisk could not create the seat's channel at all (its phone
# is not registered). Not the citizen's fault: retried soon with another seat.
SEAT_UNREACHABLE = "seat_unreachable"
# What the dispatcher reads for an attempt's outcome.
OUTCOME_LABELS = {
    "connected": "已接通",
    "noanswer": "市民未接听",
    "busy": "市民忙线",
    "failed": "呼叫失败",
    "seat_noanswer": "坐席未接听",
    SEAT_UNREACHABLE: "无法呼叫：坐席话机未注册",
    "lost": "未执行",
    "cancelled": "已取消",
}
OUTCOME_OF_DIALSTATUS = {
    "ANSWER": "connected",
    "NOANSWER": "noanswer",
    "BUSY": "busy",
}


def outcome_of(dial_status: str) -> str:
    return OUTCOME_OF_DIALSTATUS.get(dial_status.upper(), "failed")


@dataclass(frozen=True)
class Open:
    """An attempt that has begun and not ended (what a restarted controller must follow)."""

    key: str
    task_id: int
    attempt: int
    seat_id: str
    number: str
    leg_id: str | None
    dialled: bool
    started_at: datetime


async def due_tasks(
    sessions: Sessions, city: str, now: datetime, limit: int, only: set[int] | None = None
) -> list[CallbackTask]:
    """Open tasks of the city whose next attempt may start, oldest first."""
    async with sessions() as session:
        query = (
            select(CallbackTask)
            .where(CallbackTask.city == city, CallbackTask.status == "open")
            .where((CallbackTask.next_attempt_at.is_(None)) | (CallbackTask.next_attempt_at <= now))
            .order_by(CallbackTask.created_at, CallbackTask.id)
            .limit(limit)
        )
        if only is not None:
            query = query.where(CallbackTask.id.in_(only))
        return list(await session.scalars(query))


async def begin(
    sessions: Sessions,
    task: CallbackTask,
    key: str,
    city: str,
    seat_id: str,
    at: datetime,
) -> bool:
    """Write the attempt (attempt number = task.attempts + 1); False if another process began
    it first or the task is no longer open."""
    attempt = task.attempts + 1
    try:
        async with sessions.begin() as session:
            result = await session.execute(
                update(CallbackTask)
                .where(
                    CallbackTask.id == task.id,
                    CallbackTask.status == "open",
                    CallbackTask.attempts == task.attempts,
                )
                .values(attempts=attempt)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            session.add(
                CallbackAttempt(
                    task_id=task.id,
                    attempt=attempt,
                    key=key,
                    city=city,
                    seat_id=seat_id,
                    started_at=at,
                )
            )
    except IntegrityError:
        return False
    return True


async def mark(sessions: Sessions, key: str, **values: object) -> None:
    """Progress of an open attempt (seat answered, citizen dialled, the leg's Uniqueid)."""
    async with sessions.begin() as session:
        await session.execute(
            update(CallbackAttempt)
            .where(CallbackAttempt.key == key, CallbackAttempt.outcome.is_(None))
            .values(**values)
        )


async def finish(
    sessions: Sessions,
    key: str,
    outcome: str,
    at: datetime,
    *,
    dial_status: str | None = None,
    max_attempts: int = 3,
    backoff_s: float = 300.0,
) -> str | None:
    """Close the attempt and settle its task; returns the task's status, or None when the
    attempt was already closed (by this or another process)."""
    async with sessions.begin() as session:
        values: dict[str, object] = {"outcome": outcome, "ended_at": at}
        if dial_status is not None:
            values["dial_status"] = dial_status
        if outcome == "connected":
            values["answered_at"] = at
        row = await session.scalar(
            select(CallbackAttempt).where(
                CallbackAttempt.key == key, CallbackAttempt.outcome.is_(None)
            )
        )
        if row is None:
            return None
        if outcome == "connected" and row.answered_at is not None:
            values["answered_at"] = row.answered_at
        result = await session.execute(
            update(CallbackAttempt)
            .where(CallbackAttempt.id == row.id, CallbackAttempt.outcome.is_(None))
            .values(**values)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        task = await session.get(CallbackTask, row.task_id)
        if task is None or task.status != "open":
            return task.status if task is not None else "gone"
        if outcome == "connected":
            task.status, task.closed_at = "connected", at
            return task.status
        if outcome not in COUNTED:
            # Soon, with another seat; not at once, so a refusing PBX is not hammered.
            task.next_attempt_at = at + timedelta(seconds=min(backoff_s, RETRY_SOON_S))
            return task.status
        counted = await session.scalar(
            select(func.count())
            .select_from(CallbackAttempt)
            .where(
                CallbackAttempt.task_id == task.id,
                CallbackAttempt.outcome.in_(sorted(COUNTED)),
            )
        )
        n = int(counted or 0)
        if n >= max_attempts:
            task.status, task.closed_at = "failed", at
        else:
            task.next_attempt_at = at + timedelta(seconds=backoff_s * 2 ** (n - 1))
        return task.status


async def open_attempts(sessions: Sessions, city: str) -> list[Open]:
    async with sessions() as session:
        rows = await session.execute(
            select(CallbackAttempt, CallbackTask.number)
            .join(CallbackTask, CallbackTask.id == CallbackAttempt.task_id)
            .where(CallbackAttempt.city == city, CallbackAttempt.outcome.is_(None))
        )
        return [
            Open(
                a.key,
                a.task_id,
                a.attempt,
                a.seat_id,
                number,
                a.leg_id,
                a.dialled_at is not None,
                a.started_at,
            )
            for a, number in rows.all()
        ]


async def attempt(sessions: Sessions, key: str) -> CallbackAttempt | None:
    async with sessions() as session:
        return await session.scalar(select(CallbackAttempt).where(CallbackAttempt.key == key))


async def attempts(sessions: Sessions, task_id: int) -> list[CallbackAttempt]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(CallbackAttempt)
                .where(CallbackAttempt.task_id == task_id)
                .order_by(CallbackAttempt.attempt)
            )
        )


async def task(sessions: Sessions, task_id: int) -> CallbackTask | None:
    async with sessions() as session:
        return await session.get(CallbackTask, task_id)


async def hurry(sessions: Sessions, task_id: int, at: datetime) -> CallbackTask | None:
    """A dispatcher wants the task tried as soon as a seat is free (no backoff)."""
    async with sessions.begin() as session:
        row = await session.get(CallbackTask, task_id)
        if row is None:
            return None
        if row.status == "open":
            row.next_attempt_at = at
        return row
