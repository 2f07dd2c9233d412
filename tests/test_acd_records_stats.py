"""Call records on real databases, statistics on real Redis."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.calls import records
from acd.queue.service import Acd
from acd.queue.stats import Stats, overloaded
from acd.queue.types import SeatSpec, Skill
from store import keys

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


async def test_a_call_record_follows_the_call(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = "1795352700.499"
    await records.call_entered(sessions, cid, "xa", "13800002222", T0)
    await records.call_entered(sessions, cid, "xa", "13800002222", T0)  # resync: no duplicate
    await records.call_queued(sessions, cid, "enterprise", "2", T0 + timedelta(seconds=5))
    await records.seat_offered(sessions, cid, "2104", "xa", False, T0 + timedelta(seconds=8))
    await records.offer_result(sessions, cid, "noanswer", T0 + timedelta(seconds=14))
    await records.seat_offered(sessions, cid, "2001", "xy", True, T0 + timedelta(seconds=16))
    await records.offer_result(sessions, cid, "answered", T0 + timedelta(seconds=18))
    await records.call_ended(sessions, cid, "completed", 16, T0 + timedelta(seconds=90))
    record = await records.get_record(sessions, cid)
    assert (record.skill, record.ivr_path, record.seat_id, record.answer_city) == (
        "enterprise",
        "2",
        "2001",
        "xy",
    )
    assert record.overflowed and record.outcome == "completed" and record.end_cause == 16
    assert record.answered_at == T0 + timedelta(seconds=18)
    assert [(o.seat_id, o.result) for o in record.offers] == [
        ("2104", "noanswer"),
        ("2001", "answered"),
    ]


async def test_stats_windows_and_service_level(redis: Redis) -> None:
    stats = Stats(redis, sl_threshold_s=15)
    now = int(T0.timestamp() * 1000)
    for i in range(4):
        await stats.offered("xa", "general", now - i * 60_000)
    await stats.answered("xa", "general", now, wait_s=10)
    await stats.answered("xa", "general", now - 30 * 60_000, wait_s=40)  # outside 15 min
    await stats.abandoned("xa", "general", now - 60_000)
    await stats.handled("xa", "general", now, handle_s=200)
    await stats.overflowed("xa", "xy", "general", now)
    w15 = await stats.window("xa", "general", now, 15)
    assert (w15.offered, w15.answered, w15.abandoned) == (4, 1, 1)
    assert w15.service_level == 0.5 and w15.asa_s == 10 and w15.aht_s == 200
    w60 = await stats.window("xa", "general", now, 60)
    assert w60.answered == 2 and w60.service_level == 1 / 3 and w60.asa_s == 25
    today = await stats.window("xa", "general", now, None)
    assert today.answered == 2 and today.overflow_out == 1
    assert (await stats.window("xy", "general", now, 15)).overflow_in == 1


async def test_snapshot_ewt_and_wallboard_stream(redis: Redis) -> None:
    now = int(T0.timestamp() * 1000)
    acd = Acd(redis, clock=lambda: now)
    for seat_id in ("1001", "1002"):
        await acd.login(SeatSpec(seat_id, "xa", {Skill.general: 1}, f"PJSIP/{seat_id}"))
    await acd.ready("1001")
    await acd.pause("1002", "小休")
    stats = Stats(redis)
    await stats.handled("xa", "general", now, handle_s=120)
    for i in range(3):
        await acd.enqueue(f"c{i}", "xa", Skill.general, arrival_ms=now - (30 - i) * 1000)
    snap = await stats.snapshot("xa", Skill.general, now)
    assert (snap.waiting, snap.ready, snap.paused, snap.busy) == (3, 1, 1, 0)
    assert snap.longest_wait_s == 30.0
    assert snap.ewt_s == (3 + 1) * 120 / 2
    assert overloaded(snap.ewt_s, threshold_s=120)
    entry_id = await stats.publish(snap)
    [(got_id, fields)] = await redis.xrange(keys.STATS_STREAM)
    assert got_id == entry_id and json.loads(fields["data"])["waiting"] == 3
