"""Callback execution rules on real Redis and real databases: claims, attempts, limits, stats."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks import stats as callback_stats
from acd.callbacks import store as callback_store
from acd.callbacks import tasks as callbacks
from acd.callbacks.runner import CallbackRunner, within
from acd.callbacks.tables import CallbackTask
from acd.queue.service import Acd
from acd.queue.types import SeatSpec, SeatState, Skill
from pbx.link import AmiLink
from tests.calls_harness import bare_runner

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


async def _task(
    sessions: async_sessionmaker[AsyncSession], number: str, **kw: object
) -> CallbackTask:
    fields: dict[str, object] = {
        "number": number,
        "city": "xa",
        "skill": "general",
        "source": "abandoned",
        "call_id": f"xa-{number}",
        "waited_s": 12.0,
        "at": T0,
    }
    fields.update(kw)
    task = await callbacks.create(sessions, **fields)  # type: ignore[arg-type]
    assert task is not None
    return task


def _runner(acd: Acd, sessions: async_sessionmaker[AsyncSession]) -> CallbackRunner:
    link = AmiLink("xa", "127.0.0.1", 1, "u", "s")  # never started: claims need no PBX
    return bare_runner(link, acd, sessions)


async def test_an_attempt_begins_once_and_closes_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    task = await _task(sessions, "13800000011")
    assert await callback_store.begin(sessions, task, "cb-1-1", "xa", "2001", T0)
    # A second process that read the same task row cannot begin the same attempt.
    assert not await callback_store.begin(sessions, task, "cb-1-1", "xa", "2002", T0)
    later = T0 + timedelta(seconds=40)
    status = await callback_store.finish(sessions, "cb-1-1", "noanswer", later, backoff_s=60)
    assert status == "open"
    assert await callback_store.finish(sessions, "cb-1-1", "connected", later) is None
    row = await callback_store.task(sessions, task.id)
    assert (
        row is not None
        and row.attempts == 1
        and row.next_attempt_at == later + timedelta(seconds=60)
    )
    # Not due before the backoff ends; due after.
    assert await callback_store.due_tasks(sessions, "xa", later, 10) == []
    due = await callback_store.due_tasks(sessions, "xa", later + timedelta(seconds=61), 10)
    assert [t.id for t in due] == [task.id]


async def test_limit_counts_only_attempts_that_rang_the_citizen(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    task = await _task(sessions, "13800000012")
    at = T0
    outcomes = ["seat_noanswer", "lost", "busy", "noanswer"]
    statuses = []
    for n, outcome in enumerate(outcomes, start=1):
        row = await callback_store.task(sessions, task.id)
        assert row is not None
        assert await callback_store.begin(sessions, row, f"cb-{task.id}-{n}", "xa", "2001", at)
        at += timedelta(seconds=10)
        statuses.append(
            await callback_store.finish(
                sessions, f"cb-{task.id}-{n}", outcome, at, max_attempts=2, backoff_s=30
            )
        )
    assert statuses == ["open", "open", "open", "failed"]
    tries = await callback_store.attempts(sessions, task.id)
    assert [a.outcome for a in tries] == outcomes
    final = await callback_store.task(sessions, task.id)
    assert final is not None and final.status == "failed" and final.closed_at == at


async def test_two_controllers_claim_a_task_once(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    acd = Acd(redis, cities=("xa",))
    for seat in ("2001", "2002"):
        await acd.login(SeatSpec(seat, "xa", {Skill.callback: 1}, f"PJSIP/{seat}"))
        await acd.ready(seat)
    task = await _task(sessions, "13800000013")
    one, two = _runner(acd, sessions), _runner(Acd(redis, cities=("xa",)), sessions)
    got = await asyncio.gather(one.claim(task), two.claim(task))
    winners = [g for g in got if g is not None]
    assert len(winners) == 1 and winners[0][0] == f"cb-{task.id}-1"
    seat = await acd.seat(winners[0][1])
    assert (seat.state, seat.call_id) == (SeatState.ringing, f"cb-{task.id}-1")
    other = "2002" if winners[0][1] == "2001" else "2001"
    assert (await acd.seat(other)).state is SeatState.ready  # only one seat was taken


async def test_accepted_offer_keeps_the_callers_place(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """An overload task may use a seat of its skill only when nobody who came before waits."""
    acd = Acd(redis, cities=("xa",))
    await acd.login(SeatSpec("1001", "xa", {Skill.general: 1}, "PJSIP/1001"))
    await acd.ready("1001")
    task = await _task(sessions, "13800000014", source="overload")
    earlier = int((T0 - timedelta(seconds=30)).timestamp() * 1000)
    later = int((T0 + timedelta(seconds=30)).timestamp() * 1000)
    await acd.enqueue("xa-early", "xa", Skill.general, arrival_ms=earlier, caller_num="1")
    runner = _runner(acd, sessions)
    assert await runner.claim(task) is None  # a caller who arrived before it still waits
    await acd.ended("xa-early")
    await acd.enqueue("xa-late", "xa", Skill.general, arrival_ms=later, caller_num="2")
    claimed = await runner.claim(task)
    assert claimed is not None and claimed[1] == "1001"  # its turn came before the later one
    abandoned = await _task(sessions, "13800000015")  # not an accepted offer: desk seats only
    await acd.login(SeatSpec("1002", "xa", {Skill.general: 1}, "PJSIP/1002"))
    await acd.ready("1002")
    assert await runner.claim(abandoned) is None


async def test_callback_hours_in_the_city_time() -> None:
    hours = ("08:00", "21:00")
    assert within(hours, "Asia/Shanghai", T0)  # 10:00 local
    assert not within(hours, "Asia/Shanghai", T0 + timedelta(hours=12))  # 22:00 local
    assert within(("20:00", "02:00"), "Asia/Shanghai", T0 + timedelta(hours=12))
    assert within(("00:00", "00:00"), "Asia/Shanghai", T0)


async def test_stats_open_success_rate_and_time_to_callback(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    reached = await _task(sessions, "13800000016")
    assert await callback_store.begin(sessions, reached, "cb-a", "xa", "2001", T0)
    await callback_store.finish(sessions, "cb-a", "connected", T0 + timedelta(seconds=90))
    given_up = await _task(sessions, "13800000017")
    assert await callback_store.begin(sessions, given_up, "cb-b", "xa", "2001", T0)
    await callback_store.finish(sessions, "cb-b", "busy", T0, max_attempts=1)
    await _task(sessions, "13800000018")  # still open
    stats = await callback_stats.summary(sessions, "xa", T0 - timedelta(hours=1))
    assert (stats.open, stats.connected, stats.failed, stats.cancelled) == (1, 1, 1, 0)
    assert stats.success_rate == 0.5
    assert stats.avg_to_callback_s == stats.max_to_callback_s == 90.0
    entry_id = await callback_stats.publish(redis, stats)
    [(got_id, fields)] = await redis.xrange("hl:stats:stream")
    assert got_id == entry_id and fields["skill"] == "callbacks" and '"open": 1' in fields["data"]
