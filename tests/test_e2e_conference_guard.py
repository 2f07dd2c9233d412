"""Three-way calls (issue 13, item 10): a second conference request on the same call is
refused with a stable code, and a seat whose phone hangs up in the room is freed at once."""

from __future__ import annotations

import json

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.calls.transfers import transfers_of
from acd.commands import stream as commands
from acd.queue.types import SeatState
from api.errors import ControllerRefused, _handle, status_of
from sim import conference, outbound
from tests.calls_harness import (
    paired_backend,
    paired_database_url,
    paired_redis_url,
    record_ended,
    wait_for,
    wait_until,
)
from tests.test_e2e_transfers import DEPT, _ask, _setup, _talking

__all__ = ["paired_backend", "paired_database_url", "paired_redis_url"]


async def test_a_second_conference_on_the_same_call_is_refused(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await _setup(redis, sessions)
    c.phones[DEPT] = outbound.PhoneBehaviour(answer_after_s=0.2)
    conference.of(c.pbx).caller_stays_s = 3
    try:
        call_id = await _talking(c)
        first = await _ask(c, "conference", call_id=call_id, seat_id="1001", number=DEPT)
        assert first.ok, first.detail
        second = await _ask(
            c, "conference", call_id=call_id, seat_id="1001", number="02987000002"
        )  # dialable: refused for the state alone
        assert not second.ok
        assert second.fields[commands.REFUSAL] == "state"
        assert second.fields[commands.CODE] == "conference_in_progress"
        await record_ended(sessions, call_id)
    finally:
        await c.close()
    assert c.dialled == [DEPT]  # no second department leg
    assert len(await transfers_of(sessions, call_id)) == 1
    joins = [who for what, who in conference.of(c.pbx).history if what == "join"]
    assert len(joins) == 3  # caller, seat, department: nobody redirected twice


async def test_refusal_code_reaches_the_http_client() -> None:
    exc = ControllerRefused("通话已在三方通话中", "conference_in_progress")
    assert status_of(exc) == 409
    response = await _handle(None, exc)  # type: ignore[arg-type]
    assert response.status_code == 409
    body = json.loads(bytes(response.body))
    assert body == {"detail": "通话已在三方通话中", "code": "conference_in_progress"}


async def test_seat_whose_phone_hangs_up_in_the_room_is_freed_before_the_caller_leaves(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await _setup(redis, sessions)
    c.phones[DEPT] = outbound.PhoneBehaviour(answer_after_s=0.2)
    rooms = conference.of(c.pbx)
    rooms.caller_stays_s, rooms.seat_stays_s = 8, 0.8
    try:
        call_id = await _talking(c)
        reply = await _ask(c, "conference", call_id=call_id, seat_id="1001", number=DEPT)
        assert reply.ok, reply.detail

        async def freed() -> bool:
            return (await c.acd.seat("1001")).state is not SeatState.busy

        await wait_until(freed)
        caller_still_there = not any(f["call_id"] == call_id for f in c.pbx.finished)
        seat = await c.acd.seat("1001")
        await wait_for(lambda: any(f["call_id"] == call_id for f in c.pbx.finished))
        record = await record_ended(sessions, call_id)
    finally:
        await c.close()
    assert caller_still_there
    assert seat.state in (SeatState.wrapup, SeatState.ready)  # wrap-up, then ready as usual
    assert record.outcome == "transferred"
    [row] = await transfers_of(sessions, call_id)
    assert row.seat_left_at is not None


pytestmark = pytest.mark.slow
