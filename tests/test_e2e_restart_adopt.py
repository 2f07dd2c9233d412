"""A call the dialplan's fallback answered while no controller ran (issue 13, item 2): the
restarted controller adopts it from CoreShowChannels. It gets its record with the seat, and
the seat is busy while it talks (not the 小休 it was left in)."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.controller import AcdSettings
from acd.queue.types import SeatState, Skill
from sim.engine import CallerScript, SeatBehaviour
from sim.queue import QueueMember
from tests.calls_harness import city, record_ended, record_where, wait_for


async def test_restarted_controller_adopts_a_call_the_fallback_answered(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await city(redis, sessions, {})
    c.pbx.fallback_after_s = 0.3
    talk = SeatBehaviour(answer_after_s=0.1, talk_s=4.0)
    c.pbx.queues["xa-enterprise"] = [QueueMember("坐席1001", "PJSIP/1001", talk, 2.0)]
    await c.seat("1001", Skill.enterprise, ready=False)
    await c.acd.pause("1001", "小休")  # what the ACD last knew of the seat
    try:
        chan = c.pbx.place_call(CallerScript("13800003333", "2", patience_s=30))
        # No controller: app_queue rings its static member, which answers.
        await wait_for(lambda: chan.bridge != "")
        await c.start_controller(acd_settings=AcdSettings(wrapup_s={}))
        record = await record_where(sessions, chan.linkedid, lambda r: r.answered_at is not None)
        seat = await c.acd.seat("1001")
        ended = await record_ended(sessions, chan.linkedid)
    finally:
        await c.close()
    assert record.seat_id == "1001" and record.skill == "enterprise"
    assert (seat.state, seat.call_id) == (SeatState.busy, chan.linkedid)
    assert ended.outcome == "completed"
    assert (await c.acd.seat("1001")).state is SeatState.wrapup
