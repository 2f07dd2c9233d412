"""Scenario f: 多援一 across two cities. xa's only seat for the skill is paused, overflow is on
with xy as the helping city: the controller of xa routes its caller to a seat of xy, and xa's
Asterisk dials it over the inter-city trunk into xy's Asterisk, which rings the seat."""

from __future__ import annotations

import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from acd.queue import overflow
from acd.queue.stats import Stats
from acd.queue.types import SeatState, Skill
from ivr.seats import Seat as SeatEntry
from ivr.seats import SeatList
from recording.models import Recording
from tests_pbx.city import CityRun, two_cities, wait_until

pytestmark = pytest.mark.timeout(240)

# The second city's seat list: its own ids (the ACD is shared, 1001-1005 are xa's).
XY_SEATS = SeatList(
    city="xy", seats=[SeatEntry(id="2001", name="坐席2001", skills=["general", "enterprise"])]
)


@pytest.fixture
async def cities(tmp_path: Path) -> AsyncIterator[tuple[CityRun, CityRun]]:
    async with two_cities(tmp_path, XY_SEATS) as both:
        yield both


async def _trunk_up(city: CityRun, trunk: str) -> None:
    async def avail() -> bool:
        # the trunk's aor qualifies every 30 s; ask now instead of waiting for the next round
        city.pbx.cli(f"pjsip qualify {trunk}")
        shown = city.pbx.cli("pjsip show contacts")
        return f"Contact:  {trunk}/" in shown and " Avail " in _line(shown, f"{trunk}/")

    await wait_until(avail, f"{city.name}'s {trunk} to be reachable", 20)


def _line(text: str, needle: str) -> str:
    return next((line for line in text.splitlines() if needle in line), "")


def _frames(path: Path, recordings: Path) -> int:
    assert path.is_file() and path.is_relative_to(recordings), path
    with wave.open(str(path)) as w:
        return w.getnframes()


async def test_an_overloaded_city_overflows_to_a_seat_of_its_partner_over_the_trunk(
    cities: tuple[CityRun, CityRun],
) -> None:
    xa, xy = cities
    await _trunk_up(xa, "trunk-xy")
    await _trunk_up(xy, "trunk-xa")
    # xa is overloaded: its enterprise seat is logged in but paused.
    await xa.seat("1004", (Skill.enterprise,))
    await xa.acd.pause("1004", "小休")
    await xy.seat("2001", (Skill.general, Skill.enterprise))
    await overflow.set_enabled(xa.redis, "xa", True)
    # Ring 2 (the helping cities) opens after 2 s of waiting; nothing else opens it.
    await overflow.set_rule(
        xa.redis,
        "xa",
        overflow.OverflowRule(
            wait_s=2.0, ewt_s=None, callers_per_ready=None, all_cities_wait_s=None
        ),
    )
    await xa.start_controller()
    caller = await xa.call("13800000006", "2", hangup_after_s=8)

    call_id = await xa.call_id_of("13800000006")
    record = await xa.record(call_id, lambda r: r.outcome, "the call record to close", 60)
    assert await caller.wait(30) == 0, caller.messages()[-3000:]

    assert (record.outcome, record.seat_id, record.skill, record.overflowed) == (
        "completed",
        "2001",
        "enterprise",
        True,
    )
    assert record.answered_at is not None and record.caller_num == "13800000006"
    assert [(o.seat_id, o.result) for o in record.offers] == [("2001", "answered")]

    # xa's Asterisk dialled the seat through the trunk (the dial string the ACD built) ...
    [route] = xa.user_events("HotlineRoute")
    assert (route["Skill"], route["City"]) == ("enterprise", "xa")
    assert [e["Seat"] for e in xa.user_events("SeatDial")] == ["PJSIP/2001@trunk-xy"]
    assert not xa.user_events("SeatResult")
    dials = [
        m
        for m in xa.raw
        if m.get("Event") == "DialBegin" and m.get("DialString") == "2001@trunk-xy"
    ]
    assert dials and dials[0]["DestChannel"].startswith("PJSIP/trunk-xy-"), dials
    # ... and xy's Asterisk identified it as the trunk from xa and rang its own seat in [seats].
    console = xy.pbx.console.read_text(errors="replace")
    assert "Executing [2001@seats:1]" in console and "PJSIP/trunk-xa-" in _line(
        console, "Executing [2001@seats:1]"
    ), xy.pbx.tail()

    kinds = xa.kinds(call_id)
    it = iter(kinds)
    assert all(
        k in it
        for k in ("call_entered", "call_parked", "seat_ringing", "seat_answered", "call_ended")
    ), kinds

    # Seats: xy's seat is offered calls again after wrap-up (0 here), xa's stays paused.
    async def ready() -> bool:
        return (await xy.acd.seat("2001")).state is SeatState.ready

    await wait_until(ready, "seat 2001 ready again")
    assert (await xa.acd.seat("1004")).state is SeatState.paused
    assert (await xy.acd.seat("2001")).city == "xy"

    # The statistics count it out of xa and into xy.
    stats = Stats(xa.redis, tz=xa.city.timezone)
    now_ms = int(time.time() * 1000)
    assert (await stats.window("xa", "enterprise", now_ms, None)).overflow_out == 1
    assert (await stats.window("xy", "enterprise", now_ms, None)).overflow_in == 1

    # The recording is made on the caller's PBX (xa), with the seat of xy, and indexed.
    async def rows() -> list[Recording]:
        async with xa.sessions() as session:
            found = await session.scalars(select(Recording).where(Recording.call_id == call_id))
            return list(found)

    async def indexed() -> bool:
        return len(await rows()) >= 2

    await wait_until(indexed, "the recording index rows")
    files = {r.speaker: r for r in await rows()}
    assert {"caller", "seat"} <= set(files), files
    for speaker, row in files.items():
        assert _frames(Path(row.path), xa.recordings) > 8000, speaker  # over 1 s of 8 kHz audio
        assert row.seat_id == "2001", row
