"""Callback figures for the wallboard: open tasks, success rate, hang-up to callback time.

Computed from the database (tasks and attempts are durable there); the controller publishes
them on the statistics stream beside the queue snapshots (``skill`` = ``callbacks``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks.tables import CallbackAttempt, CallbackTask
from store import keys

STREAM_SKILL = "callbacks"


@dataclass(frozen=True)
class CallbackStats:
    city: str
    open: int  # tasks waiting for (or in) a callback
    connected: int  # closed since ``since``: the citizen was reached
    failed: int  # gave up after the attempt limit
    cancelled: int  # the citizen got through on a later call
    success_rate: float | None  # connected / (connected + failed); None before any
    avg_to_callback_s: float | None  # hang-up (task written) to the citizen answering
    max_to_callback_s: float | None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


async def summary(
    sessions: async_sessionmaker[AsyncSession], city: str, since: datetime
) -> CallbackStats:
    async with sessions() as session:
        counts = dict(
            (
                await session.execute(
                    select(CallbackTask.status, func.count())
                    .where(CallbackTask.city == city)
                    .where((CallbackTask.status == "open") | (CallbackTask.closed_at >= since))
                    .group_by(CallbackTask.status)
                )
            ).all()
        )
        waits = (
            await session.execute(
                select(CallbackTask.created_at, func.min(CallbackAttempt.answered_at))
                .join(CallbackAttempt, CallbackAttempt.task_id == CallbackTask.id)
                .where(
                    CallbackTask.city == city,
                    CallbackTask.status == "connected",
                    CallbackTask.closed_at >= since,
                    CallbackAttempt.outcome == "connected",
                )
                .group_by(CallbackTask.id, CallbackTask.created_at)
            )
        ).all()
    seconds = [(answered - created).total_seconds() for created, answered in waits if answered]
    connected, failed = int(counts.get("connected", 0)), int(counts.get("failed", 0))
    decided = connected + failed
    return CallbackStats(
        city=city,
        open=int(counts.get("open", 0)),
        connected=connected,
        failed=failed,
        cancelled=int(counts.get("cancelled", 0)),
        success_rate=connected / decided if decided else None,
        avg_to_callback_s=sum(seconds) / len(seconds) if seconds else None,
        max_to_callback_s=max(seconds) if seconds else None,
    )


async def publish(redis: Redis, stats: CallbackStats) -> str:
    entry = {
        "city": stats.city,
        "skill": STREAM_SKILL,
        "data": json.dumps(stats.to_json(), ensure_ascii=False),
    }
    return str(await redis.xadd(keys.STATS_STREAM, entry, maxlen=5000, approximate=True))  # type: ignore[arg-type]
