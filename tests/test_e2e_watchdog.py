"""The stuck-seat watchdog (issue 14): a seat left busy by a lost event is reset (checked
against CoreShowChannels), reported (log, counter, wallboard stream event); a seat that is
really talking on the PBX is never touched."""

from __future__ import annotations

import json

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.controller import AcdSettings
from acd.queue.types import SeatState, Skill
from acd.queue.watchdog import resets_key
from api.metrics import scrape
from sim.engine import CallerScript, SeatBehaviour
from store import keys
from tests.calls_harness import city, wait_until


async def test_stuck_seat_is_reset_and_a_talking_one_is_not(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await city(redis, sessions, {"1002": SeatBehaviour(answer_after_s=0.1, talk_s=8)})
    await c.seat("2001", Skill.callback)
    await c.seat("1002", Skill.general)
    settings = AcdSettings(wrapup_s={}, stuck_ringing_s=1.0, stuck_busy_s=1.0)
    await c.start_controller(acd_settings=settings)
    try:
        chan = c.pbx.place_call(CallerScript("13800000001", "1", patience_s=30))

        async def talking() -> bool:
            return (await c.acd.seat("1002")).state is SeatState.busy

        await wait_until(talking)
        # What a lost end leaves behind: the callback desk busy with an attempt the PBX
        # no longer has, long past the limit.
        old = c.acd.clock() - 240_000
        await redis.zrem(keys.acd_ready("xa", "callback"), "2001")
        await redis.hset(
            keys.acd_seat("2001"), mapping={"state": "busy", "call": "cb-77-1", "since": old}
        )

        async def reset() -> bool:
            return (await c.acd.seat("2001")).state is SeatState.ready

        await wait_until(reset)
        really_talking = (await c.acd.seat("1002")).state
        call_up = not any(f["call_id"] == chan.linkedid for f in c.pbx.finished)
        metrics = (await scrape(redis, ("xa",))).decode()
    finally:
        await c.close()
    assert call_up and really_talking is SeatState.busy  # busy > 1 s, but really talking
    assert await redis.get(resets_key("xa")) == "1"
    assert 'hotline_seats_reset_total{city="xa"} 1.0' in metrics
    events = [
        json.loads(e["data"])
        for _id, e in await redis.xrange(keys.STATS_STREAM)
        if e["skill"] == "watchdog"
    ]
    assert [(e["seat_id"], e["state"], e["call_id"]) for e in events] == [
        ("2001", "busy", "cb-77-1")
    ]
