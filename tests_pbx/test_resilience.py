"""Scenarios d (the dialplan's fallback when no seat is routed) and g (AMI link cut mid-call)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from acd.calls.tables import CallRecord
from acd.queue.types import SeatState, Skill
from pbx import actions as act
from pbx import callevents as ce
from tests_pbx.city import CityRun, wait_until

pytestmark = pytest.mark.timeout(180)


async def test_ami_link_cut_mid_call_keeps_the_caller_and_the_controller_resyncs(
    xa: CityRun,
) -> None:
    await xa.seat("1004", (Skill.enterprise,))
    running = await xa.start_controller()
    caller = await xa.call("13800000007", "2", hangup_after_s=12)
    call_id = await xa.call_id_of("13800000007")

    async def answered() -> bool:
        return "seat_answered" in xa.kinds(call_id)

    await wait_until(answered, "the seat to answer")
    before = sum(isinstance(e, ce.ResyncComplete) for e in xa.events)  # the first login's
    # Cut the controller's TCP connection to the AMI, as a network fault would.
    running.link._manager.protocol.transport.abort()

    async def resynced() -> bool:
        done = sum(isinstance(e, ce.ResyncComplete) for e in xa.events)
        return done > before and running.link.state == "up"

    await wait_until(resynced, "the controller to reconnect and resync")
    resync = [e for e in xa.events if isinstance(e, ce.CallResynced) and e.call_id == call_id]
    assert resync and resync[0].phase == "talking", [
        e.to_json() for e in xa.events if e.kind in ("resync_complete", "call_resynced")
    ]
    # The caller stayed on the line until it hung up itself (SIPp's BYE, exit code 0).
    assert await caller.wait(40) == 0, caller.messages()[-3000:]
    record = await xa.record(call_id, lambda r: r.outcome, "the call record to close")
    assert (record.outcome, record.seat_id) == ("completed", "1004")

    async def ready() -> bool:
        return (await xa.acd.seat("1004")).state is SeatState.ready

    await wait_until(ready, "seat 1004 ready again")


async def test_fallback_queues_the_caller_when_no_seat_is_routed(xa: CityRun) -> None:
    await xa.seat("1004", (Skill.enterprise,))  # registered softphone, member of xa-enterprise
    await xa.acd.pause("1004", "小休")  # paused in the ACD: the controller routes nobody
    running = await xa.start_controller()
    # asterisk_conf loads unchanged: the test lowers the global over AMI, as the controller may.
    await running.link.send(act.setvar("FALLBACK_AFTER", "3"))
    caller = await xa.call("13800000008", "2", hangup_after_s=30)
    call_id = await xa.call_id_of("13800000008")

    async def fell_back() -> bool:
        return bool(xa.user_events("HotlineFallback"))

    await wait_until(fell_back, "HotlineFallback", 40)
    [fallback] = xa.user_events("HotlineFallback")
    assert (fallback["Queue"], fallback["CallId"]) == ("xa-enterprise", call_id)

    async def queued() -> bool:
        return any(isinstance(e, ce.CallQueued) and e.call_id == call_id for e in xa.events)

    await wait_until(queued, "QueueCallerJoin seen by the controller")

    async def answered_by_queue() -> bool:
        return any(m.get("Event") == "AgentConnect" for m in xa.raw)

    await wait_until(answered_by_queue, "the queue's member 1004 to answer", 40)
    assert await caller.wait(60) == 0, caller.messages()[-3000:]
    record = await xa.record(call_id, lambda r: r.ended_at is not None, "the record to close")
    assert await xa.acd.queue_length("xa", Skill.enterprise) == 0
    assert (record.outcome, record.seat_id) == ("completed", "1004"), record.outcome


async def test_a_caller_parked_while_no_controller_ran_is_routed_at_its_start(
    xa: CityRun,
) -> None:
    await xa.seat("1004", (Skill.enterprise,))
    caller = await xa.call("13800000006", "2", hangup_after_s=10)  # no controller: nobody hears

    async def parked() -> bool:
        return "acd-wait" in xa.pbx.cli("core show channels concise")

    await wait_until(parked, "the caller to wait in [acd-wait]", 30)
    await xa.start_controller()  # its resync finds the caller waiting, unqueued

    async def answered() -> CallRecord | None:
        async with xa.sessions() as s:
            return await s.scalar(
                select(CallRecord).where(
                    CallRecord.caller_num == "13800000006", CallRecord.answered_at.is_not(None)
                )
            )

    await wait_until(answered, "the seat to answer the caller found at the resync", 40)
    assert await caller.wait(40) == 0, caller.messages()[-3000:]
    record = await answered()
    assert record is not None
    assert (record.seat_id, record.skill) == ("1004", "enterprise")
    assert not xa.user_events("HotlineFallback")  # routed by the controller, not the fallback
