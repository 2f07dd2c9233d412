"""Scenario c: a caller gives up while waiting; the controller calls back, seat leg first."""

from __future__ import annotations

from dataclasses import replace

import pytest

from acd.callbacks import store as callback_store
from acd.callbacks import tasks as callbacks
from acd.controller import AcdSettings
from acd.queue.types import SeatState, Skill
from pbx.stamps import stamp_ms
from tests_pbx import sipp
from tests_pbx.city import FAST_CALLBACKS, CityRun, wait_until

pytestmark = pytest.mark.timeout(180)

CITIZEN = "13800000003"


async def test_abandoned_caller_gets_a_callback_task_and_is_called_back(xa: CityRun) -> None:
    seat = await xa.seat("1002", (Skill.general, Skill.callback))
    await xa.acd.pause("1002", "小休")  # on a break: nobody takes the call
    await xa.start_controller(
        AcdSettings(
            ring_timeout_s=6,
            wrapup_s={"general": 0, "callback": 0},
            recordings=str(xa.recordings),
            callback_after_s=1.0,
            # With no seat ready the expected wait is endless and the IVR would offer a
            # callback (OVERLOAD_XA); this scenario is the caller who waits and gives up.
            overload_ewt_s=48 * 3600,
        ),
        replace(FAST_CALLBACKS, recordings=str(xa.recordings)),
    )
    caller = await xa.call(CITIZEN, "1", hangup_after_s=4)
    call_id = await xa.call_id_of(CITIZEN)
    assert await caller.wait(30) == 0, caller.messages()[-3000:]
    record = await xa.record(call_id, lambda r: r.outcome, "the abandoned record")
    assert (record.outcome, record.seat_id, record.skill) == ("abandoned", None, "general")
    # manager.conf's timestampevents: the caller's wait is timed by Asterisk's own clock.
    [hangup] = [m for m in xa.raw if m.get("Event") == "Hangup" and m.get("Uniqueid") == call_id]
    [route] = [m for m in xa.user_events("HotlineRoute") if m.get("Uniqueid") == call_id]
    hung_up, routed = stamp_ms(hangup), stamp_ms(route)
    assert hung_up is not None and routed is not None, "Asterisk sent no Timestamp"
    assert record.ended_at is not None and record.queued_at is not None
    waited = (record.ended_at - record.queued_at).total_seconds()
    assert waited == pytest.approx((hung_up - routed) / 1000, abs=0.01)

    async def written() -> bool:
        return await callbacks.open_task(xa.sessions, CITIZEN) is not None

    await wait_until(written, "the callback task")
    task = await callbacks.open_task(xa.sessions, CITIZEN)
    assert task is not None and task.source == "abandoned" and task.call_id == call_id
    assert task.waited_s >= 1.0

    carrier = await xa.carrier(ring_s=1, talk_s=4)
    await xa.acd.ready("1002")  # the seat is back: the runner calls the citizen back

    async def settled() -> bool:
        found = await callback_store.task(xa.sessions, task.id)
        return found is not None and found.status != "open" and found.status != "dialling"

    await wait_until(settled, "the callback attempt to settle", 60)
    assert await carrier.wait(30) == sipp.CARRIER_DONE, carrier.messages()[-3000:]
    [dial] = xa.user_events("CallbackDial")  # the seat answered first, then the citizen rang
    assert (dial["Task"], dial["Channel"].split("-")[0]) == (f"{task.id}-1", "PJSIP/1002")
    done = await callback_store.task(xa.sessions, task.id)
    results = xa.user_events("CallbackResult")
    assert [(r["Task"], r["DialStatus"]) for r in results] == [(f"{task.id}-1", "ANSWER")], (
        done.status if done else None
    )
    assert done is not None and done.status == "connected"
    [attempt] = await callback_store.attempts(xa.sessions, task.id)
    assert (attempt.outcome, attempt.seat_id, attempt.dial_status) == (
        "connected",
        "1002",
        "ANSWER",
    )
    assert (await xa.acd.seat("1002")).state is SeatState.ready
    assert seat.running
