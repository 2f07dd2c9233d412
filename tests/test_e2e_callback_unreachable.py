"""A callback whose seat's phone is not registered (issue 13, item 4).

Asterisk 22 answers the Originate at once with ``Failure, Reason: 0, Uniqueid: <unknown>``:
no channel, no ring. That is neither the citizen's fault nor a missed ring: the attempt gets
its own outcome (with a Chinese label for the dispatcher), the seat is paused with its own
reason, and the task is retried soon with another seat.
"""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks import store as callback_store
from acd.queue.types import UNREACHABLE, SeatState, Skill
from api import views
from api.services import dispatch
from sim import outbound
from sim.engine import SeatBehaviour
from tests.calls_harness import city, wait_until
from tests.test_e2e_callback import CITIZEN, _abandoned_task, _settled


async def test_unregistered_seat_is_a_distinct_failure_and_another_seat_calls_back(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    talk = SeatBehaviour(answer_after_s=0.1, talk_s=0.5)
    c = await city(redis, sessions, {"2001": talk, "2002": talk})
    c.pbx.unregistered.add("2001")
    c.phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.1, talk_s=0.3)
    await c.seat("2001", Skill.callback, ready=False)
    await c.seat("2002", Skill.callback, ready=False)
    await c.start_controller()
    try:
        task = await _abandoned_task(c)
        await c.acd.ready("2001")  # idle longest: tried first

        async def first_closed() -> bool:
            rows = await callback_store.attempts(sessions, task.id)
            return bool(rows) and rows[0].outcome is not None

        await wait_until(first_closed)
        await c.acd.ready("2002")
        await _settled(c, task.id, "connected")
        seat = await c.acd.seat("2001")
    finally:
        await c.close()
    first, second = await callback_store.attempts(sessions, task.id)
    assert (first.seat_id, first.outcome) == ("2001", callback_store.SEAT_UNREACHABLE)
    assert callback_store.OUTCOME_LABELS[first.outcome] == "无法呼叫：坐席话机未注册"
    assert (second.seat_id, second.outcome) == ("2002", "connected")
    assert (seat.state, seat.reason) == (SeatState.paused, UNREACHABLE)
    assert c.dialled == [CITIZEN]  # the citizen rang once, for the seat that could call


async def test_dispatcher_reads_the_last_attempt_with_its_chinese_label(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await city(redis, sessions, {"2001": SeatBehaviour(answer_after_s=0.1)})
    c.pbx.unregistered.add("2001")
    await c.seat("2001", Skill.callback, ready=False)
    await c.start_controller()
    try:
        task = await _abandoned_task(c)
        await c.acd.ready("2001")

        async def closed() -> bool:
            return bool(await dispatch.last_outcomes(sessions, [task.id]))

        await wait_until(closed)
    finally:
        await c.close()
    last = await dispatch.last_outcomes(sessions, [task.id])
    shown = views.callback(task, last.get(task.id))
    assert (shown.last_outcome, shown.last_outcome_label) == (
        "seat_unreachable",
        "无法呼叫：坐席话机未注册",
    )
