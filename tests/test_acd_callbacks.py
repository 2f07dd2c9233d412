"""Callback tasks on real databases: written once per number, limited per day, cancelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks import tasks as callbacks

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


async def make(sessions, number: str = "13800000001", at: datetime = T0, limit: int = 3):
    return await callbacks.create(
        sessions,
        number=number,
        city="xa",
        skill="general",
        source="abandoned",
        call_id="c1",
        waited_s=42.0,
        at=at,
        daily_limit=limit,
    )


async def test_one_open_task_per_number(sessions: async_sessionmaker[AsyncSession]) -> None:
    first = await make(sessions)
    again = await make(sessions, at=T0 + timedelta(minutes=5))
    assert first is not None and again is not None and again.id == first.id
    assert await callbacks.count(sessions) == 1
    other = await make(sessions, number="13900000002")
    assert other is not None and other.id != first.id


async def test_answered_call_cancels_and_daily_limit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for n in range(2):
        assert await make(sessions, at=T0 + timedelta(hours=n), limit=2) is not None
        assert (
            await callbacks.cancel_for_number(
                sessions, "13800000001", T0 + timedelta(hours=n, minutes=1)
            )
            == 1
        )
    assert await make(sessions, at=T0 + timedelta(hours=3), limit=2) is None  # limit for today
    tomorrow = T0 + timedelta(days=1)
    assert await make(sessions, at=tomorrow, limit=2) is not None
    assert await callbacks.count(sessions, "cancelled") == 2
    assert await callbacks.count(sessions, "open") == 1


async def test_withheld_number_gets_no_task(sessions: async_sessionmaker[AsyncSession]) -> None:
    assert await make(sessions, number="") is None
