"""The dialplan's fallback Queue() while the controller runs (issue 13, item 1).

Seen on a real Asterisk 22: every 政企通 seat paused in the controller, the dialplan queued the
caller itself after FALLBACK_AFTER, app_queue rang a static member the controller had paused,
and when another seat clicked ready the controller Redirected the caller out of its
conversation. Here the same through the simulator (app_queue's Queue() with its members,
QueuePause honoured), the real controller, Redis and the database.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks import tasks as callbacks
from acd.controller import AcdSettings, seat_of_channel
from acd.queue.types import SeatState, Skill
from pbx.actions import queue_pause
from sim.engine import CallerScript, SeatBehaviour
from sim.queue import QueueMember
from store import keys
from tests.calls_harness import city, record_ended, record_where, wait_for, wait_until

CALLER = "13800003333"


def _members(*seats: str) -> list[QueueMember]:
    return [
        QueueMember(f"坐席{s}", f"PJSIP/{s}", SeatBehaviour(answer_after_s=0.1, talk_s=1.0), 0.5)
        for s in seats
    ]


async def test_fallback_caller_leaves_the_acd_and_rings_only_seats_it_has_ready(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    talk = SeatBehaviour(answer_after_s=0.1, talk_s=1.0)
    c = await city(redis, sessions, {"1001": talk, "1004": talk})
    c.pbx.fallback_after_s = 0.3
    c.pbx.queues["xa-enterprise"] = _members("1001", "1004")
    # Both seats paused in the ACD (1001 is a static member app_queue would ring).
    await c.seat("1001", Skill.enterprise, Skill.general, ready=False)
    await c.seat("1004", Skill.enterprise, ready=False)
    await c.acd.pause("1001", "小休")
    await c.start_controller(acd_settings=AcdSettings(ring_timeout_s=2, wrapup_s={}))
    try:
        # The controller mirrors the pauses to app_queue before any caller comes.
        await wait_for(
            lambda: (
                c.pbx.member_paused("xa-enterprise", "PJSIP/1001")
                and c.pbx.member_paused("xa-enterprise", "PJSIP/1004")
            )
        )
        chan = c.pbx.place_call(CallerScript(CALLER, "2", patience_s=30))
        call_id = chan.linkedid

        async def in_fallback() -> bool:
            return bool((await redis.hget(keys.acd_call(call_id), "state")) == "fallback")

        await wait_until(in_fallback)
        assert await c.acd.queue_length("xa", Skill.enterprise) == 0
        # Seat 1004 clicks ready: app_queue (now unpaused) rings it, not the controller.
        await c.acd.ready("1004")
        record = await record_where(sessions, call_id, lambda r: r.answered_at is not None)
        assert record.seat_id == "1004"
        assert (await c.acd.seat("1004")).state is SeatState.busy
        assert (await c.acd.seat("1001")).state is SeatState.paused
        ended = await record_ended(sessions, call_id)
    finally:
        await c.close()
    assert ended.outcome == "completed" and ended.seat_id == "1004"
    assert [(o.seat_id, o.result) for o in ended.offers] == [("1004", "answered")]
    # Never rung by the fallback while paused, never pulled into [acd-connect].
    assert not [e for e in c.pbx.finished if e["outcome"] != "fallback"]
    assert chan.variables.get("SEAT") is None
    assert await callbacks.open_task(sessions, CALLER) is None
    assert (await c.acd.seat("1004")).state is SeatState.wrapup  # after the call, as usual


async def test_answer_by_a_member_the_acd_had_paused_makes_it_busy_and_records_it(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A pause that reached app_queue too late (or a seat app_queue rang anyway): the answer
    is the truth. The seat talks, so it is busy, and the call is recorded with it."""
    talk = SeatBehaviour(answer_after_s=0.1, talk_s=1.5)
    c = await city(redis, sessions, {"1001": talk})
    c.pbx.fallback_after_s = 0.3
    c.pbx.queues["xa-enterprise"] = _members("1001")
    await c.seat("1001", Skill.enterprise, ready=False)
    controller = await c.start_controller(acd_settings=AcdSettings(ring_timeout_s=2))
    controller.controller.mirror.sync = _never  # type: ignore[method-assign]
    try:
        chan = c.pbx.place_call(CallerScript(CALLER, "2", patience_s=30))
        record = await record_where(sessions, chan.linkedid, lambda r: r.answered_at is not None)
        assert record.seat_id == "1001"
        assert (await c.acd.seat("1001")).state is SeatState.busy
        ended = await record_ended(sessions, chan.linkedid)
    finally:
        await c.close()
    assert ended.outcome == "completed"
    assert (await c.acd.seat("1001")).state is SeatState.wrapup


async def _never() -> None:
    await asyncio.sleep(0)


async def test_fallback_rings_every_member_with_no_controller_at_all(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await city(redis, sessions, {})
    c.pbx.fallback_after_s = 0.3
    c.pbx.queues["xa-general"] = _members("1001")
    try:
        c.pbx.place_call(CallerScript(CALLER, "1", patience_s=30))
        await wait_for(lambda: [f["outcome"] for f in c.pbx.finished] == ["fallback"])
    finally:
        await c.close()
    assert c.pbx.finished[0]["outcome"] == "fallback"
    assert not c.pbx.paused_members.get("xa-general")


def test_seat_of_a_dialled_channel() -> None:
    assert seat_of_channel("PJSIP/1001-0000000a") == "1001"
    assert seat_of_channel("Local/2105@agents2-000000fd;1") == "2105"
    assert seat_of_channel("PJSIP/trunk-xy-00000001") == ""
    assert seat_of_channel("") == ""


def test_queue_pause_refuses_injection() -> None:
    action = queue_pause("PJSIP/1001", True, reason="小休")
    assert action.headers == (("Interface", "PJSIP/1001"), ("Paused", "true"), ("Reason", "小休"))
    for bad in ("PJSIP/1001\r\nAction: Originate", "1001"):
        try:
            queue_pause(bad, False)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")
