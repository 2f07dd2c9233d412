"""三方通话, 转接 and 监听 end to end: requests on the command stream, the real controller, the
simulator over a real socket, real Redis and a real database."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.calls.transfers import transfers_of
from acd.commands import stream as commands
from acd.queue.types import SeatState, Skill
from sim import conference, outbound
from sim.engine import CallerScript, SeatBehaviour
from tests.calls_harness import (
    CityUnderTest,
    city,
    paired_backend,
    paired_database_url,
    paired_redis_url,
    record_ended,
    record_where,
    wait_for,
    wait_until,
)
from tickets.models import Department

pytestmark = pytest.mark.slow
# One run per backend pair (see tests/calls_harness.py), not per combination.
__all__ = ["paired_backend", "paired_database_url", "paired_redis_url"]

CITIZEN = "13900000001"
DEPT = "02987000004"


async def _talking(c: CityUnderTest) -> str:
    """A caller is answered by seat 1001; returns the call id once the seat is busy."""
    chan = c.pbx.place_call(CallerScript(CITIZEN, "1", patience_s=30))

    async def busy() -> bool:
        return (await c.acd.seat("1001")).state is SeatState.busy

    await wait_until(busy)
    await record_where(c.sessions, chan.linkedid, lambda r: r.answered_at is not None)
    return chan.linkedid


async def _transfer_ended(sessions: async_sessionmaker[AsyncSession], call_id: str) -> bool:
    rows = await transfers_of(sessions, call_id)
    return bool(rows) and rows[0].ended_at is not None


async def _ask(c: CityUnderTest, kind: str, **fields: str) -> commands.Reply:
    command_id = await commands.submit(c.redis, "xa", kind, fields)
    reply = await commands.wait_reply(c.redis, command_id, timeout_s=10)
    assert reply is not None, f"{kind}: no reply"
    return reply


async def _setup(redis: Redis, sessions: async_sessionmaker[AsyncSession]) -> CityUnderTest:
    c = await city(redis, sessions, {"1001": SeatBehaviour(answer_after_s=0.1, talk_s=30)})
    conference.of(c.pbx).caller_stays_s = 1.5
    await c.seat("1001", Skill.general)
    ctl = await c.start_controller()
    ctl.runtime.transfers.dept_ring_s = 1
    return c


async def test_three_way_with_a_department_that_answers_and_warm_hand_over(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions.begin() as session:
        dept = Department(
            name="市住房和城乡建设局", number="029-87000004", duty_hours="00:00-24:00"
        )
        session.add(dept)
    c = await _setup(redis, sessions)
    c.phones[DEPT] = outbound.PhoneBehaviour(answer_after_s=0.2)
    try:
        call_id = await _talking(c)
        reply = await _ask(
            c, "conference", call_id=call_id, seat_id="1001", department_id=str(dept.id), stay="0"
        )
        assert reply.ok, reply.detail
        await wait_for(lambda: any(f["call_id"] == call_id for f in c.pbx.finished))
        record = await record_ended(sessions, call_id)
        await wait_until(lambda: _transfer_ended(sessions, call_id))
    finally:
        await c.close()
    [row] = await transfers_of(sessions, call_id)
    assert (row.kind, row.result, row.department_id, row.number) == (
        "conference",
        "connected",
        dept.id,
        DEPT,
    )
    assert row.answered_at and row.seat_left_at and row.ended_at
    assert row.seat_left_at >= row.answered_at  # the seat left after the department came
    history = conference.of(c.pbx).history
    joined = [who.split("-")[0] for what, who in history if what == "join"]
    assert sorted(joined) == ["PJSIP/1001", "PJSIP/pstn", "PJSIP/pstn"]  # caller, seat, dept
    assert ("end", row.room) in history
    assert c.dialled == [DEPT]
    assert record.outcome == "transferred"


async def test_three_way_with_a_department_that_does_not_answer(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await _setup(redis, sessions)  # the department's phone rings for ever
    try:
        call_id = await _talking(c)
        reply = await _ask(c, "conference", call_id=call_id, seat_id="1001", number=DEPT)
        assert reply.ok, reply.detail

        async def settled() -> bool:
            rows = await transfers_of(sessions, call_id)
            return bool(rows) and rows[0].result is not None

        await wait_until(settled)
        room = conference.of(c.pbx).rooms[(await transfers_of(sessions, call_id))[0].room or ""]
        # The caller is back with the seat: both still in the room, nobody else.
        assert sorted(m.name.split("-")[0] for m in room.members) == ["PJSIP/1001", "PJSIP/pstn"]
        assert (await c.acd.seat("1001")).state is SeatState.busy
        await wait_for(lambda: any(f["call_id"] == call_id for f in c.pbx.finished))
        record = await record_ended(sessions, call_id)
    finally:
        await c.close()
    [row] = await transfers_of(sessions, call_id)
    assert (row.result, row.answered_at, row.seat_left_at) == ("noanswer", None, None)
    assert record.outcome == "completed"


async def test_blind_transfer_frees_the_seat_at_once(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await _setup(redis, sessions)
    c.phones[DEPT] = outbound.PhoneBehaviour(answer_after_s=0.2, talk_s=0.3)
    try:
        call_id = await _talking(c)
        reply = await _ask(c, "blind_transfer", call_id=call_id, seat_id="1001", number=DEPT)
        assert reply.ok, reply.detail
        assert (await c.acd.seat("1001")).state is not SeatState.busy  # wrap-up (0 s) or ready
        await wait_for(lambda: any(f["call_id"] == call_id for f in c.pbx.finished))
        record = await record_ended(sessions, call_id)
        await wait_until(lambda: _transfer_ended(sessions, call_id))
    finally:
        await c.close()
    assert {"call_id": call_id, "outcome": "transfer_answer"} in c.pbx.finished
    [row] = await transfers_of(sessions, call_id)
    assert (row.kind, row.result, row.number) == ("blind", "connected", DEPT)
    assert row.seat_left_at and row.answered_at and row.ended_at
    assert record.outcome == "transferred"


async def test_supervisor_listens_and_bad_requests_are_refused(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await _setup(redis, sessions)
    c.phones["9001"] = outbound.PhoneBehaviour(answer_after_s=0.1, talk_s=0.3)
    try:
        idle = await _ask(c, "spy", seat_id="1001", supervisor="9001", mode="listen")
        assert not idle.ok and "没有通话" in idle.detail
        call_id = await _talking(c)
        bad = await _ask(c, "spy", seat_id="1001", supervisor="9001", mode="eavesdrop")
        assert not bad.ok and "mode must be one of" in bad.detail
        wrong = await _ask(c, "conference", call_id="nope", seat_id="1001", number=DEPT)
        assert not wrong.ok
        reply = await _ask(c, "spy", seat_id="1001", supervisor="9001", mode="whisper")
        assert reply.ok and reply.fields["call_id"] == call_id
        await wait_for(lambda: any(w == "spy" for w, _ in conference.of(c.pbx).history))
    finally:
        await c.close()
    [spy] = [who for what, who in conference.of(c.pbx).history if what == "spy"]
    assert spy.startswith("whisper:PJSIP/1001-")


async def test_seat_stays_in_the_conference_then_leaves(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await _setup(redis, sessions)
    conference.of(c.pbx).caller_stays_s = 3.0
    c.phones[DEPT] = outbound.PhoneBehaviour(answer_after_s=0.1)
    try:
        call_id = await _talking(c)
        reply = await _ask(c, "conference", call_id=call_id, seat_id="1001", number=DEPT, stay="1")
        assert reply.ok, reply.detail

        async def connected() -> bool:
            rows = await transfers_of(sessions, call_id)
            return bool(rows) and rows[0].result == "connected"

        await wait_until(connected)
        assert (await c.acd.seat("1001")).state is SeatState.busy  # three of them talk
        left = await _ask(c, "conference_leave", call_id=call_id, seat_id="1001")
        assert left.ok, left.detail
        assert (await c.acd.seat("1001")).state is not SeatState.busy
        await wait_for(lambda: any(f["call_id"] == call_id for f in c.pbx.finished))
        again = await _ask(c, "conference_leave", call_id=call_id, seat_id="1001")
        assert not again.ok  # left already
        record = await record_ended(sessions, call_id)
    finally:
        await c.close()
    [row] = await transfers_of(sessions, call_id)
    assert row.stay and row.seat_left_at and row.answered_at and row.seat_left_at > row.answered_at
    left_room = [who for what, who in conference.of(c.pbx).history if what == "leave"]
    assert left_room[0].startswith("PJSIP/1001-")  # the seat left first; the others talked on
    assert record.outcome == "transferred"
