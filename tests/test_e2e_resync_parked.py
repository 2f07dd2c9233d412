"""Callers who reached [acd-wait] while no controller listened are queued at the next resync
(found by `make chaos`, rows ami_cut and controller_kill: their HotlineRoute was lost, so they
heard music until the dialplan's fallback, or gave up unrecorded and were never called back)."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.controller import AcdSettings
from acd.queue.types import Skill
from ivr.events import RouteRequest
from sim.engine import CallerScript, SeatBehaviour
from tests.calls_harness import city, record_where, wait_until


async def test_a_caller_parked_while_no_controller_ran_is_queued_and_answered(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await city(redis, sessions, {"1001": SeatBehaviour(answer_after_s=0.1, talk_s=30)})
    await c.seat("1001", Skill.general, ready=False)
    early = c.pbx.place_call(CallerScript("13800000001", "1", patience_s=60))

    async def parked() -> bool:
        return early.context == "acd-wait"

    await wait_until(parked)
    await asyncio.sleep(1.1)  # WAIT_START is whole seconds: the first caller waited longer
    late = c.pbx.place_call(CallerScript("13800000002", "2", patience_s=60))  # 政企通

    async def both_parked() -> bool:
        return late.context == "acd-wait"

    await wait_until(both_parked)
    try:
        running = await c.start_controller(acd_settings=AcdSettings(wrapup_s={}))

        async def queued() -> bool:
            return await c.acd.active("xa") == {early.linkedid, late.linkedid}

        await wait_until(queued)
        await c.acd.ready("1001")
        answered = await record_where(sessions, early.linkedid, lambda r: r.answered_at)
        # The lost event arriving late must not put a talking caller back in the queue.
        again = RouteRequest(early.linkedid, "xa", "general", "13800000001", "1", 0)
        controller = running.controller
        await controller._route_request(again, early.name, controller.clock())
        state = (await c.acd.call_info(early.linkedid)).get("state")
        waiting = await record_where(sessions, late.linkedid, lambda r: r.skill)
    finally:
        await c.close()
    assert (answered.seat_id, answered.skill) == ("1001", "general")
    assert state == "talking"
    assert waiting.skill == "enterprise" and waiting.answered_at is None
    assert answered.queued_at is not None and waiting.queued_at is not None
    assert answered.queued_at < waiting.queued_at  # queued by when they began to wait
