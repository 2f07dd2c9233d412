"""After a missed ring the seat page learns the seat is paused (issue 14): before, no state
event came and the page stayed at 振铃 with every button disabled until reloaded."""

from __future__ import annotations

import asyncio
import json

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.controller import AcdSettings
from acd.queue import notify
from acd.queue.types import MISSED, Skill
from sim.engine import CallerScript, SeatBehaviour
from tests.calls_harness import city


async def test_missed_ring_publishes_the_paused_state(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await city(redis, sessions, {"1002": SeatBehaviour(answer_after_s=None)})
    await c.seat("1002", Skill.general)
    pops = redis.pubsub()
    await pops.subscribe(notify.channel(redis, "1002"))
    await c.start_controller(acd_settings=AcdSettings(ring_timeout_s=1, wrapup_s={}))
    seen: list[dict[str, object]] = []
    try:
        c.pbx.place_call(CallerScript("13800000001", "1", patience_s=30))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not any(e["type"] == "state" for e in seen):
            assert loop.time() < deadline, f"no state event; got {seen}"
            message = await pops.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is not None:
                seen.append(json.loads(message["data"]))
    finally:
        await pops.aclose()
        await c.close()
    kinds = [e["type"] for e in seen]
    assert kinds[0] == "ringing"
    state = next(e for e in seen if e["type"] == "state")
    seat = state["seat"]
    assert isinstance(seat, dict)
    assert (seat["state"], seat["reason"], seat["call_id"]) == ("paused", MISSED, None)
