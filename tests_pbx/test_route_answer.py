"""Scenarios a and b: IVR press 2 → HotlineRoute → the controller routes to a seat softphone."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from sqlalchemy import select

from acd.controller import AcdSettings
from acd.queue.types import SeatState, Skill
from recording.models import Recording
from tests_pbx.city import CityRun, wait_until

pytestmark = pytest.mark.timeout(180)


def _frames(path: Path) -> int:
    with wave.open(str(path)) as w:
        return w.getnframes()


async def _indexed(xa: CityRun, call_id: str) -> list[Recording]:
    async with xa.sessions() as session:
        rows = await session.scalars(select(Recording).where(Recording.call_id == call_id))
        return list(rows)


async def test_press_2_reaches_an_enterprise_seat_and_is_recorded(xa: CityRun) -> None:
    await xa.seat("1004", (Skill.enterprise,))
    await xa.start_controller()
    caller = await xa.call("13800000001", "2", hangup_after_s=8)

    call_id = await xa.call_id_of("13800000001")
    record = await xa.record(call_id, lambda r: r.outcome, "the call record to close")
    assert await caller.wait(30) == 0, caller.messages()[-3000:]

    assert (record.outcome, record.seat_id, record.skill, record.ivr_path) == (
        "completed",
        "1004",
        "enterprise",
        "2",
    )
    assert record.answered_at is not None and record.caller_num == "13800000001"
    assert [(o.seat_id, o.result) for o in record.offers] == [("1004", "answered")]

    # wrap-up 0 for the test: the seat is offered calls again
    async def ready() -> bool:
        return (await xa.acd.seat("1004")).state is SeatState.ready

    await wait_until(ready, "seat 1004 ready again")

    # What the controller saw, in order (other events may sit between these).
    kinds = xa.kinds(call_id)
    wanted = [
        "call_entered",
        "ivr_choice",
        "call_parked",
        "seat_ringing",
        "seat_answered",
        "call_ended",
    ]
    it = iter(kinds)
    assert all(k in it for k in wanted), kinds
    [route] = xa.user_events("HotlineRoute")
    assert (route["Skill"], route["Path"], route["City"]) == ("enterprise", "2", "xa")
    assert not xa.user_events("SeatResult")  # answered: Dial has no `g`, no SeatResult

    # MixMonitor wrote the mixed file and one per speaker, with audio, and they are indexed.
    async def indexed() -> bool:
        return len(await _indexed(xa, call_id)) >= 2

    await wait_until(indexed, "the recording index rows")
    rows = await _indexed(xa, call_id)
    files = {r.speaker: Path(r.path) for r in rows}
    assert {"caller", "seat"} <= set(files), rows
    for speaker, path in files.items():
        assert path.is_file() and path.is_relative_to(xa.recordings), path
        assert _frames(path) > 8000, (speaker, path)  # over a second of 8 kHz audio
    assert all(r.seat_id == "1004" and r.city == "xa" for r in rows)


async def test_a_seat_that_does_not_answer_puts_the_caller_back_and_another_answers(
    xa: CityRun,
) -> None:
    await xa.seat("1004", (Skill.enterprise,), answer=False)  # idle longest: offered first
    await xa.seat("1001", (Skill.general, Skill.enterprise))
    await xa.start_controller(
        AcdSettings(
            ring_timeout_s=4,
            wrapup_s={"general": 0, "enterprise": 0},
            recordings=str(xa.recordings),
        )
    )
    caller = await xa.call("13800000002", "2", hangup_after_s=8)
    call_id = await xa.call_id_of("13800000002")
    record = await xa.record(call_id, lambda r: r.outcome, "the call record to close", 60)
    assert await caller.wait(30) == 0, caller.messages()[-3000:]

    assert (record.outcome, record.seat_id) == ("completed", "1001")
    assert [(o.seat_id, o.result) for o in record.offers] == [
        ("1004", "noanswer"),
        ("1001", "answered"),
    ]
    [result] = xa.user_events("SeatResult")
    assert (result["Seat"], result["DialStatus"]) == ("PJSIP/1004", "NOANSWER")
    # The dialplan took the caller back to [acd-wait], keeping its original place.
    waits = [m for m in xa.raw if m.get("Event") == "Newexten" and m.get("Context") == "acd-wait"]
    assert not waits  # the AMI account does not read `dialplan` (manager.conf): no Newexten
    seat_dials = [e["Seat"] for e in xa.user_events("SeatDial")]
    assert seat_dials == ["PJSIP/1004", "PJSIP/1001"]
    kinds = xa.kinds(call_id)
    it = iter(kinds)
    assert all(
        k in it
        for k in (
            "call_parked",
            "seat_ringing",
            "seat_not_answered",
            "seat_ringing",
            "seat_answered",
        )
    ), kinds
    missed = await xa.acd.seat("1004")
    assert missed.state is SeatState.paused  # the ACD pauses a seat that let a call ring out

    async def indexed() -> bool:
        return {r.attempt for r in await _indexed(xa, call_id)} >= {2}

    await wait_until(indexed, "the answered attempt's recording rows")
    answered = [r for r in await _indexed(xa, call_id) if r.attempt == 2]
    assert {r.seat_id for r in answered} == {"1001"}
    for row in answered:
        assert _frames(Path(row.path)) > 8000, row.path
