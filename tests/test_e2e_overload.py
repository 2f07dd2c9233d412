"""The callback offer's flag OVERLOAD_<CITY> follows the expected wait and the number waiting
(issue 13, item 9): with no seat ready the EWT alone is a whole handle time, and a lone caller
used to hear the offer."""

from __future__ import annotations

import json

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.controller import AcdSettings
from acd.queue.stats import overloaded
from acd.queue.types import Skill
from sim.engine import CallerScript
from store import keys
from tests.calls_harness import city, wait_for, wait_until


async def test_no_offer_for_a_lone_caller_offer_once_callers_pile_up(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await city(redis, sessions, {})
    await c.seat("1001", Skill.general, ready=False)
    await c.acd.pause("1001", "小休")  # staffed, none ready: the EWT is one handle time
    await c.start_controller(
        acd_settings=AcdSettings(wrapup_s={}, overload_ewt_s=120, overload_waiting=3)
    )
    try:
        await wait_for(lambda: "OVERLOAD_XA" in c.pbx.globals)
        assert c.pbx.globals["OVERLOAD_XA"] == "0"
        first = c.pbx.place_call(CallerScript("13800000001", "1", patience_s=30))

        async def queued(n: int) -> bool:
            return await c.acd.queue_length("xa", Skill.general) == n

        await wait_until(lambda: queued(1))
        # Two snapshots of the general line with this one caller: the flag was decided on
        # (at least) the first of them, the same round that published it.
        await wait_until(lambda: snapshots(redis, waiting=1, at_least=2))
        assert c.pbx.globals["OVERLOAD_XA"] == "0"
        for i in (2, 3):
            c.pbx.place_call(CallerScript(f"1380000000{i}", "1", patience_s=30))
        await wait_until(lambda: queued(3))
        await wait_for(lambda: c.pbx.globals.get("OVERLOAD_XA") == "1")
        assert first.linkedid
    finally:
        await c.close()


async def snapshots(redis: Redis, *, waiting: int, at_least: int) -> bool:
    entries = await redis.xrange(keys.STATS_STREAM)
    seen = [
        e
        for _id, e in entries
        if e["city"] == "xa"
        and e["skill"] == "general"
        and json.loads(e["data"])["waiting"] == waiting
    ]
    return len(seen) >= at_least


def test_overloaded_needs_both_the_wait_and_the_callers() -> None:
    assert not overloaded(180.0, 120.0, waiting=0, min_waiting=3)
    assert not overloaded(180.0, 120.0, waiting=2, min_waiting=3)
    assert overloaded(180.0, 120.0, waiting=3, min_waiting=3)
    assert not overloaded(60.0, 120.0, waiting=10, min_waiting=3)
