"""漏话回拨 end to end: a caller gives up, the controller calls back through the simulator.

The simulator speaks AMI over a real socket and runs [callback] as asterisk_conf/ does; the
controller, Redis and the database are the production code on real servers. "Exactly one
callback" is counted where it matters: the citizen's phone rang once (``dialled``).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks import store as callback_store
from acd.callbacks import tasks as callbacks
from acd.callbacks.tables import CallbackTask
from acd.calls import records
from acd.commands import stream as commands
from acd.controller import AcdSettings
from acd.queue import notify
from acd.queue.types import SeatState, Skill
from asr.jobs import Job
from hotline.db import make_engine, session_factory
from recording.models import Recording
from recording.policy import base_path, speaker_files
from sim import outbound
from sim.engine import CallerScript, SeatBehaviour
from sim.recorder import Recorder
from store import keys
from tests.calls_harness import (
    FAST_CALLBACKS,
    CityUnderTest,
    city,
    paired_backend,
    paired_database_url,
    paired_redis_url,
    wait_for,
    wait_until,
)

pytestmark = pytest.mark.slow
# One run per backend pair (see tests/calls_harness.py), not per combination.
__all__ = ["paired_backend", "paired_database_url", "paired_redis_url"]

CITIZEN = "13800000001"


async def _abandoned_task(c: CityUnderTest) -> CallbackTask:
    """A caller waits with no seat free and hangs up: the controller writes the task."""
    c.pbx.place_call(CallerScript(CITIZEN, "1", patience_s=1.5))

    async def written() -> bool:
        return await callbacks.open_task(c.sessions, CITIZEN) is not None

    await wait_until(written)
    task = await callbacks.open_task(c.sessions, CITIZEN)
    assert task is not None and task.source == "abandoned" and task.waited_s >= 0.3
    return task


async def _status(c: CityUnderTest, task_id: int) -> str:
    task = await callback_store.task(c.sessions, task_id)
    assert task is not None
    return task.status


async def _settled(c: CityUnderTest, task_id: int, status: str) -> None:
    async def done() -> bool:
        return await _status(c, task_id) == status

    await wait_until(done)


async def test_abandoned_caller_is_called_back_once(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await city(redis, sessions, {"2001": SeatBehaviour(answer_after_s=0.1, talk_s=1)})
    c.phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.2, talk_s=0.3)
    await c.seat("2001", Skill.callback, ready=False)  # the 漏话回拨 desk is not staffed yet
    await c.start_controller()
    pops = redis.pubsub()
    await pops.subscribe(notify.channel(redis, "2001"))
    try:
        task = await _abandoned_task(c)
        await c.acd.ready("2001")
        await _settled(c, task.id, "connected")
        await asyncio.sleep(0.5)  # a second ring, if there were one, would have started
        await wait_until(lambda: _seat_ready(c, "2001"))  # wrap-up 0, ended by the next tick
        shown = None
        for _ in range(5):  # the subscription's own confirmation comes first
            shown = await pops.get_message(timeout=1)
            if shown is not None and shown["type"] == "message":
                break
    finally:
        await pops.aclose()
        await c.close()
    # The seat's page showed whom it calls back and how long that caller had waited.
    assert shown is not None
    body = json.loads(shown["data"])
    assert (body["type"], body["number"], body["task_id"]) == ("callback", CITIZEN, task.id)
    assert body["waited_s"] == task.waited_s
    assert c.dialled == [CITIZEN]
    [attempt] = await callback_store.attempts(sessions, task.id)
    assert (attempt.outcome, attempt.seat_id, attempt.dial_status) == (
        "connected",
        "2001",
        "ANSWER",
    )
    assert attempt.seat_answered_at and attempt.dialled_at and attempt.answered_at
    assert attempt.key == f"cb-{task.id}-1"
    assert (await c.acd.seat("2001")).state is SeatState.ready  # wrap-up 0 in the test


async def test_link_drop_during_the_originate_rings_once(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await city(redis, sessions, {"2001": SeatBehaviour(answer_after_s=0.3, talk_s=1)})
    c.phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.3, talk_s=0.5)
    await c.seat("2001", Skill.callback, ready=False)
    ctl = await c.start_controller()
    try:
        task = await _abandoned_task(c)
        c.server.drop_on.add("originate")  # Asterisk runs it; its answer never arrives
        await c.acd.ready("2001")
        await _settled(c, task.id, "connected")
        await asyncio.sleep(0.5)
    finally:
        await c.close()
    assert list(ctl.runtime.callbacks.sent) == [f"cb-{task.id}-1"]  # never re-sent
    assert outbound.of(c.pbx).originates == [f"hl-orig-cb-{task.id}-1"]
    assert c.dialled == [CITIZEN]
    [attempt] = await callback_store.attempts(sessions, task.id)
    assert attempt.outcome == "connected"


async def test_controller_killed_mid_callback_rings_once(
    redis: Redis, sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    c = await city(redis, sessions, {"2001": SeatBehaviour(answer_after_s=0.1, talk_s=1)})
    c.phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.8, talk_s=0.5)
    await c.seat("2001", Skill.callback, ready=False)
    # The first controller is a process of its own: its own connections, gone when it dies.
    doomed_engine = make_engine(database_url)
    doomed = await c.start_controller(session_factory(doomed_engine))
    try:
        task = await _abandoned_task(c)
        await c.acd.ready("2001")
        await wait_for(lambda: c.dialled == [CITIZEN])  # the citizen's phone rings
        await doomed.stop()  # the controller process dies
        c.controllers.remove(doomed)
        await doomed_engine.dispose()
        await c.start_controller()  # resyncs, finds the attempt's call still up
        await _settled(c, task.id, "connected")
        await asyncio.sleep(0.5)
    finally:
        await c.close()
    assert c.dialled == [CITIZEN]
    assert len(outbound.of(c.pbx).originates) == 1
    [attempt] = await callback_store.attempts(sessions, task.id)
    assert (attempt.outcome, attempt.dial_status) == ("connected", "ANSWER")


async def test_callback_that_ended_while_no_controller_ran_is_read_from_astdb(
    redis: Redis, sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    c = await city(redis, sessions, {"2001": SeatBehaviour(answer_after_s=0.1, talk_s=1)})
    c.phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.3, talk_s=0.2)
    await c.seat("2001", Skill.callback, ready=False)
    doomed_engine = make_engine(database_url)
    doomed = await c.start_controller(session_factory(doomed_engine))
    try:
        task = await _abandoned_task(c)
        await c.acd.ready("2001")
        await wait_for(lambda: c.dialled == [CITIZEN])
        await doomed.stop()
        c.controllers.remove(doomed)
        await doomed_engine.dispose()
        await wait_for(lambda: not c.pbx.live())  # the whole callback ends unobserved
        await c.start_controller()
        await _settled(c, task.id, "connected")
        await asyncio.sleep(0.5)
        await wait_until(lambda: _seat_ready(c, "2001"))
    finally:
        await c.close()
    assert c.dialled == [CITIZEN]
    [attempt] = await callback_store.attempts(sessions, task.id)
    assert (attempt.outcome, attempt.dial_status) == ("connected", "ANSWER")
    assert (await c.acd.seat("2001")).state is SeatState.ready


async def test_caller_answered_on_a_later_call_gets_no_callback(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await city(
        redis,
        sessions,
        {
            "1001": SeatBehaviour(answer_after_s=0.1, talk_s=0.3),
            "2001": SeatBehaviour(answer_after_s=0.1, talk_s=1),
        },
    )
    c.phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.1)
    await c.seat("1001", Skill.general, ready=False)
    await c.seat("2001", Skill.callback, ready=False)
    await c.start_controller()
    try:
        task = await _abandoned_task(c)
        await c.acd.ready("1001")
        await asyncio.sleep(0.5)  # a seat is free: the IVR no longer offers a callback
        c.pbx.place_call(CallerScript(CITIZEN, "1", patience_s=30))  # calls again, answered
        await _settled(c, task.id, "cancelled")
        await c.acd.ready("2001")  # the callback desk is free now: nothing to call back
        await asyncio.sleep(1.0)
    finally:
        await c.close()
    assert c.dialled == []
    assert outbound.of(c.pbx).originates == []
    assert await callback_store.attempts(sessions, task.id) == []


@pytest.mark.parametrize("busy", [False, True], ids=["noanswer", "busy"])
async def test_callback_retries_and_stops_at_the_limit(
    redis: Redis, sessions: async_sessionmaker[AsyncSession], busy: bool
) -> None:
    c = await city(redis, sessions, {"2001": SeatBehaviour(answer_after_s=0.1, talk_s=1)})
    if busy:
        c.phones[CITIZEN] = outbound.PhoneBehaviour(busy=True)
    # else: the citizen's phone is unknown to the simulator and never answers
    await c.seat("2001", Skill.callback, ready=False)
    settings = replace(FAST_CALLBACKS, max_attempts=2, backoff_s=0.3)
    await c.start_controller(callbacks=settings)
    try:
        task = await _abandoned_task(c)
        await c.acd.ready("2001")
        await _settled(c, task.id, "failed")
        await asyncio.sleep(1.0)  # no third attempt comes
    finally:
        await c.close()
    assert c.dialled == [CITIZEN, CITIZEN]
    tries = await callback_store.attempts(sessions, task.id)
    outcome = "busy" if busy else "noanswer"
    assert [(a.attempt, a.outcome) for a in tries] == [(1, outcome), (2, outcome)]
    gap = (tries[1].started_at - tries[0].ended_at).total_seconds()
    assert gap >= 0.3  # the backoff was kept


async def test_dispatcher_asks_for_a_callback_outside_the_hours(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await city(redis, sessions, {"2001": SeatBehaviour(answer_after_s=0.1, talk_s=1)})
    c.phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.1, talk_s=0.2)
    await c.seat("2001", Skill.callback)
    # Callback hours that never include now (a one-minute window 12 hours away).
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    start = (now + timedelta(hours=12)).strftime("%H:%M")
    end = (now + timedelta(hours=12, minutes=1)).strftime("%H:%M")
    closed = replace(FAST_CALLBACKS, hours=(start, end))
    await c.start_controller(callbacks=closed)
    try:
        task = await callbacks.create(
            sessions,
            number=CITIZEN,
            city="xa",
            skill="general",
            source="abandoned",
            call_id="xa-earlier",
            waited_s=20,
            at=datetime.now(UTC),
        )
        assert task is not None
        await asyncio.sleep(1.0)
        assert c.dialled == []  # outside the hours nobody is called back
        command_id = await commands.submit(redis, "xa", "callback_now", {"task_id": str(task.id)})
        reply = await commands.wait_reply(redis, command_id, 10)
        assert reply is not None and reply.ok, reply
        await _settled(c, task.id, "connected")
        unknown = await commands.submit(redis, "xa", "callback_now", {"task_id": "999999"})
        refused = await commands.wait_reply(redis, unknown, 10)
        assert refused is not None and not refused.ok and "unknown callback task" in refused.detail
    finally:
        await c.close()
    assert c.dialled == [CITIZEN]


async def test_two_controllers_ring_the_citizen_once(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await city(redis, sessions, {"2001": SeatBehaviour(answer_after_s=0.2, talk_s=1)})
    c.phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.2, talk_s=0.3)
    await c.seat("2001", Skill.callback, ready=False)
    await c.start_controller()
    await c.start_controller()  # a second controller process for the same PBX
    try:
        task = await _abandoned_task(c)
        await c.acd.ready("2001")
        await _settled(c, task.id, "connected")
        await asyncio.sleep(0.5)
    finally:
        await c.close()
    assert c.dialled == [CITIZEN]
    assert len(outbound.of(c.pbx).originates) == 1
    assert len(await callback_store.attempts(sessions, task.id)) == 1


async def test_caller_the_dialplan_queued_by_itself_and_who_gave_up_is_called_back(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """No seat took the call and the dialplan's own fallback queue did not either."""
    c = await city(redis, sessions, {"2001": SeatBehaviour(answer_after_s=0.1, talk_s=1)})
    c.pbx.fallback_after_s = 0.3
    c.phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.1, talk_s=0.2)
    await c.seat("2001", Skill.callback, ready=False)
    # callback_after_s so long that the abandon rule alone would not call back.
    await c.start_controller(acd_settings=AcdSettings(wrapup_s={}, callback_after_s=600))
    try:
        c.pbx.place_call(CallerScript(CITIZEN, "1", patience_s=1.0))
        await wait_for(lambda: [f["outcome"] for f in c.pbx.finished] == ["fallback"])

        async def written() -> bool:
            return await callbacks.open_task(sessions, CITIZEN) is not None

        await wait_until(written)
        task = await callbacks.open_task(sessions, CITIZEN)
        assert task is not None and task.source == "missed"
        await c.acd.ready("2001")
        await _settled(c, task.id, "connected")
    finally:
        await c.close()
    assert c.dialled == [CITIZEN]


async def test_a_connected_callback_is_recorded_indexed_and_queued_for_asr(
    redis: Redis, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """The callback's MixMonitor files (real WAVs from the simulator's recorder) land in the
    recording policy's layout under the attempt's key, are indexed with the seat, and get one
    ASR job per speaker, as an inbound call's do; the leg gets a call record."""
    c = await city(redis, sessions, {"2001": SeatBehaviour(answer_after_s=0.1, talk_s=1)})
    c.pbx.recorder = Recorder("zh", cache_dir=tmp_path / "clips")
    c.phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.2, talk_s=1.5)
    await c.seat("2001", Skill.callback, ready=False)
    root = tmp_path / "rec"
    await c.start_controller(callbacks=replace(FAST_CALLBACKS, recordings=str(root)))
    try:
        task = await _abandoned_task(c)
        await c.acd.ready("2001")
        await _settled(c, task.id, "connected")
        [attempt] = await callback_store.attempts(sessions, task.id)

        async def indexed() -> list[Recording]:
            async with sessions() as s:
                found = await s.scalars(select(Recording).where(Recording.call_id == attempt.key))
                return list(found.all())

        async def queued_for_asr() -> bool:  # the jobs follow the index's commit
            return await redis.xlen(keys.ASR_STREAM) >= 2

        await wait_until(queued_for_asr)
    finally:
        await c.close()
    got = await indexed()
    assert sorted((r.speaker, r.seat_id, r.city) for r in got) == [
        (s, "2001", "xa") for s in ("caller", "mixed", "seat")
    ]
    started = attempt.started_at.replace(tzinfo=UTC)
    base = base_path(root, attempt.key, 1, started)
    assert {Path(r.path) for r in got} == set(speaker_files(base).values())
    assert all(r.duration_s > 0.5 and r.format == "wav-pcm16" for r in got)
    # Its call record: QA finds the callback, the seat sees it among its calls.
    record = await records.get_record(sessions, attempt.key)
    assert (record.outcome, record.skill, record.seat_id, record.caller_num) == (
        "callback",
        "callback",
        "2001",
        CITIZEN,
    )
    assert record.answered_at is not None and record.ended_at is not None
    queued = [Job.parse(f) for _, f in await redis.xrange(keys.ASR_STREAM)]
    assert sorted((j.call_id, j.speaker) for j in queued) == [
        (attempt.key, "caller"),
        (attempt.key, "seat"),
    ]


async def _seat_ready(c: CityUnderTest, seat_id: str) -> bool:
    return (await c.acd.seat(seat_id)).state is SeatState.ready
