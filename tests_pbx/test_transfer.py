"""Scenario e (part): blind transfer of an answered caller to a department behind the carrier."""

from __future__ import annotations

import pytest

from acd.calls.transfers import transfers_of
from acd.commands import stream as commands
from acd.queue.types import SeatState, Skill
from tests_pbx import sipp
from tests_pbx.city import CityRun, wait_until

pytestmark = pytest.mark.timeout(180)

DEPT = "057187000004"


async def test_blind_transfer_hands_the_caller_to_a_department(xa: CityRun) -> None:
    await xa.seat("1004", (Skill.enterprise,))
    await xa.start_controller()
    department = await xa.carrier(ring_s=1, talk_s=3)  # answers, talks, hangs up
    caller = await xa.call("13800000005", "2", hangup_after_s=40)  # stays until hung up
    call_id = await xa.call_id_of("13800000005")

    async def busy() -> bool:
        return (await xa.acd.seat("1004")).state is SeatState.busy

    await wait_until(busy, "seat 1004 talking")
    command_id = await commands.submit(
        xa.redis, "xa", "blind_transfer", {"call_id": call_id, "seat_id": "1004", "number": DEPT}
    )
    reply = await commands.wait_reply(xa.redis, command_id, timeout_s=20)
    assert reply is not None and reply.ok, reply

    assert await department.wait(40) == sipp.CARRIER_DONE, department.messages()[-3000:]
    # The department hung up: Asterisk hangs up the caller (SIPp got the BYE, exit code 0).
    assert await caller.wait(30) == 0, caller.messages()[-3000:]
    [dept_call] = xa.user_events("DeptCall")
    assert (dept_call["Number"], dept_call["CallId"]) == (DEPT, call_id)

    async def ended() -> bool:
        rows = await transfers_of(xa.sessions, call_id)
        return bool(rows) and rows[0].ended_at is not None

    await wait_until(ended, "the transfer row to close")
    [row] = await transfers_of(xa.sessions, call_id)
    assert (row.kind, row.result, row.number) == ("blind", "connected", DEPT)
    assert row.seat_left_at and row.answered_at
    record = await xa.record(call_id, lambda r: r.outcome, "the call record to close")
    assert (record.outcome, record.seat_id) == ("transferred", "1004")
    assert (await xa.acd.seat("1004")).state is not SeatState.busy


async def test_three_way_with_a_department_then_the_seat_hands_over(xa: CityRun) -> None:
    await xa.seat("1004", (Skill.enterprise,))
    await xa.start_controller()
    department = await xa.carrier(ring_s=1, talk_s=4)
    caller = await xa.call("13800000006", "2", hangup_after_s=15)  # leaves the room itself
    call_id = await xa.call_id_of("13800000006")

    async def busy() -> bool:
        return (await xa.acd.seat("1004")).state is SeatState.busy

    await wait_until(busy, "seat 1004 talking")
    command_id = await commands.submit(
        xa.redis,
        "xa",
        "conference",
        {"call_id": call_id, "seat_id": "1004", "number": DEPT, "stay": "0"},
    )
    reply = await commands.wait_reply(xa.redis, command_id, timeout_s=20)
    assert reply is not None and reply.ok, reply

    assert await department.wait(40) == sipp.CARRIER_DONE, department.messages()[-3000:]
    assert await caller.wait(40) == 0, caller.messages()[-3000:]

    async def ended() -> bool:
        rows = await transfers_of(xa.sessions, call_id)
        return bool(rows) and rows[0].ended_at is not None

    await wait_until(ended, "the transfer row to close")
    [row] = await transfers_of(xa.sessions, call_id)
    assert (row.kind, row.result, row.number) == ("conference", "connected", DEPT)
    assert row.answered_at and row.seat_left_at and row.seat_left_at >= row.answered_at
    joined = sorted(
        m["Channel"].split("-")[0] for m in xa.raw if m.get("Event") == "ConfbridgeJoin"
    )
    assert joined == ["PJSIP/1004", "PJSIP/pstn", "PJSIP/pstn"]  # seat, caller, department
    record = await xa.record(call_id, lambda r: r.outcome, "the call record to close")
    assert (record.outcome, record.seat_id) == ("transferred", "1004")
