"""Automated return visits through the simulator: exactly one ring per attempt, retries within
limits, then the 回访台; an answer written to the ticket once; an attempt whose end was missed
settled from AstDB; a seat visit run as an agent-first callback. "Rang once" is counted where it
matters: the citizen's phone (``dialled``)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks import visit_store
from acd.callbacks.tables import CallbackAttempt, CallbackTask
from acd.callbacks.visit_tables import VisitCall
from acd.callbacks.visits import VisitRunner, VisitSettings
from acd.queue.types import SeatState, Skill
from api.services import visits
from sim import outbound, revisit
from sim.engine import SeatBehaviour
from store.base import utcnow
from tests.calls_harness import (
    FAST_CALLBACKS,
    CityUnderTest,
    city,
    paired_backend,
    paired_database_url,
    paired_redis_url,
    wait_until,
)
from tests.tickets_support import replied_ticket
from tickets.lifecycle import Action, Command, Role, Satisfaction
from tickets.loop import Actor, act
from tickets.models import Ticket

pytestmark = pytest.mark.slow
__all__ = ["paired_backend", "paired_database_url", "paired_redis_url"]

CITIZEN = "13800000009"


async def _ticket(sessions: async_sessionmaker[AsyncSession], tid: int) -> Ticket:
    async with sessions() as s:
        row = await s.get(Ticket, tid)
    assert row is not None
    return row


async def _visit(sessions: async_sessionmaker[AsyncSession], visit_id: int) -> VisitCall:
    async with sessions() as s:
        row = await s.get(VisitCall, visit_id)
    assert row is not None
    return row


async def _status(c: CityUnderTest, visit_id: int, status: str) -> VisitCall:
    async def reached() -> bool:
        return (await _visit(c.sessions, visit_id)).status == status

    await wait_until(reached)
    return await _visit(c.sessions, visit_id)


async def test_two_controllers_ask_once_and_the_ticket_takes_the_answer_once(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await city(redis, sessions)
    c.phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.1)
    revisit.keypad(c.pbx)[CITIZEN] = ["2"]
    tid = await replied_ticket(sessions, CITIZEN)
    try:
        await c.start_controller()
        await c.start_controller()  # a second controller process for the same PBX
        row, created = await visits.start(sessions, tid, "ivr", "xa", "disp")
        again, created_again = await visits.start(sessions, tid, "ivr", "xa", "seat1")
        assert created and not created_again and again.id == row.id
        done = await _status(c, row.id, "done")
        await asyncio.sleep(0.5)  # a second ring would come within the tick
    finally:
        await c.close()
    assert c.dialled == [CITIZEN]
    assert (done.result, done.attempts, done.key) == ("2", 1, f"rv-{row.id}-1")
    ticket = await _ticket(sessions, tid)
    assert (ticket.status, ticket.satisfaction, ticket.visited) == ("已回访", "基本满意", True)
    assert outbound.of(c.pbx).astdb[f"hlrv/rv-{row.id}-1"] == "2"


@pytest.mark.parametrize(
    ("phone", "rings", "left"),
    [
        # nobody picks up: rung out each time, retried up to the limit
        (outbound.PhoneBehaviour(None), FAST_CALLBACKS.max_attempts, (3, "noanswer", None)),
        # picked up, no key pressed: not rung again
        (outbound.PhoneBehaviour(answer_after_s=0.1), 1, (1, "answered", "none")),
    ],
    ids=["no-answer", "no-key"],
)
async def test_a_visit_nobody_answers_is_left_to_the_desk(
    redis: Redis,
    sessions: async_sessionmaker[AsyncSession],
    phone: outbound.PhoneBehaviour,
    rings: int,
    left: tuple[int, str, str | None],
) -> None:
    c = await city(redis, sessions)
    c.phones[CITIZEN] = phone
    tid = await replied_ticket(sessions, CITIZEN)
    try:
        await c.start_controller()
        row, _ = await visits.start(sessions, tid, "ivr", "xa", "disp")
        desk = await _status(c, row.id, "desk")
    finally:
        await c.close()
    assert c.dialled == [CITIZEN] * rings
    assert (desk.attempts, desk.outcome, desk.result) == left
    assert (await _ticket(sessions, tid)).status == "已办结"  # the desk calls by hand


async def test_an_attempt_whose_end_was_missed_is_settled_from_astdb(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A controller began two attempts and died; [revisit-ivr] answered one of them (AstDB
    keeps 3), the other never reached Asterisk. Settling rings nobody."""
    c = await city(redis, sessions)
    answered, lost = (
        await replied_ticket(sessions, CITIZEN),
        await replied_ticket(sessions, "13800000010"),
    )
    began: list[VisitCall] = []
    for tid in (answered, lost):
        row, _ = await visits.start(sessions, tid, "ivr", "xa", "disp")
        assert await visit_store.begin(sessions, row, f"rv-{row.id}-1", utcnow())
        began.append(row)
    outbound.of(c.pbx).astdb[f"hlrv/rv-{began[0].id}-1"] = "3"
    try:
        ctl = await c.start_controller(callbacks=replace(FAST_CALLBACKS, hours=("03:00", "03:00")))
        runner = VisitRunner("xa", ctl.link, sessions, VisitSettings(settle_after_s=0))
        await runner.settle()
    finally:
        await c.close()
    assert c.dialled == []
    first, second = [await _visit(sessions, v.id) for v in began]
    assert (first.status, first.result) == ("done", "3")
    assert (second.status, second.outcome) == ("desk", "lost")
    ticket = await _ticket(sessions, answered)
    assert (ticket.status, ticket.reopen_count) == ("办理中", 1)  # 不满意: 重办


async def test_a_seat_visit_rings_a_ready_seat_first_then_the_citizen(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await city(redis, sessions, {"2001": SeatBehaviour(answer_after_s=0.1, talk_s=5)})
    c.phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.2, talk_s=0.3)
    await c.seat("2001", Skill.callback, ready=False)
    tid = await replied_ticket(sessions, CITIZEN)
    try:
        await c.start_controller()
        row, created = await visits.start(sessions, tid, "seat", "xa", "seat1")
        _, twice = await visits.start(sessions, tid, "seat", "xa", "seat1")
        await c.acd.ready("2001")

        async def connected() -> bool:
            async with sessions() as s:
                task = await s.scalar(select(CallbackTask).where(CallbackTask.source == "visit"))
            return task is not None and task.status == "connected"

        await wait_until(connected)
    finally:
        await c.close()
    assert created and not twice
    assert c.dialled == [CITIZEN]
    assert (row.status, visits.status_label(row)) == ("calling", "已转坐席回拨")


async def test_a_seat_who_clicks_call_is_rung_first_not_the_longest_idle_colleague(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    behaviour = SeatBehaviour(answer_after_s=0.1, talk_s=5)
    c = await city(redis, sessions, {"2001": behaviour, "2002": behaviour})
    c.phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.2, talk_s=0.3)
    await c.seat("2001", Skill.callback)  # ready first: the desk's longest idle
    await c.seat("2002", Skill.general, ready=False)  # the clicker: not on the callback desk
    tid = await replied_ticket(sessions, CITIZEN)
    try:
        await c.start_controller()
        await visits.start(sessions, tid, "seat", "xa", "seat2", seat_id="2002")
        await asyncio.sleep(0.5)  # a tick or more: the task waits for its seat, not another
        assert c.dialled == []
        await c.acd.ready("2002")

        async def connected() -> CallbackAttempt | None:
            async with sessions() as s:
                return await s.scalar(
                    select(CallbackAttempt).where(CallbackAttempt.outcome == "connected")
                )

        await wait_until(connected)
        attempt = await connected()
    finally:
        await c.close()
    assert attempt is not None and attempt.seat_id == "2002"
    assert c.dialled == [CITIZEN]
    assert (await c.acd.seat("2001")).state == SeatState.ready


async def test_a_queued_visit_of_a_reply_the_desk_visited_meanwhile_rings_nobody(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await city(redis, sessions)
    c.phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.1)
    tid = await replied_ticket(sessions, CITIZEN)
    row, _ = await visits.start(sessions, tid, "ivr", "xa", "disp")  # no controller runs yet
    async with sessions() as s:  # the seat phoned the citizen and recorded the answer by hand
        seat = Actor("seat1", Role.SEAT)
        await act(
            s, tid, Command(Action.VISIT, Role.SEAT, satisfaction=Satisfaction.SATISFIED), seat
        )
    try:
        await c.start_controller()
        left = await _status(c, row.id, "cancelled")
    finally:
        await c.close()
    assert c.dialled == [] and left.attempts == 0
