"""The PBX's clock: Timestamp parsing, the skew between its clock and ours, and the live link
dating each call event by when the PBX says it happened, however late it is read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from pbx import callevents as ce
from pbx.link import AmiLink, Backoff
from pbx.message import Message
from pbx.skew import LIMIT_MS, Skew
from pbx.stamps import parse_ms, stamp_ms
from pbx.tracker import PHASE_PARKED
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SimPbx
from tests.calls_harness import wait_for

# --- stamps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1795346662.778764", 1795346662778),  # as Asterisk prints it (the captures' Ping)
        ("1795346662.778", 1795346662778),
        ("1795346662.5", 1795346662500),
        ("1795346662", 1795346662000),
        (" 1795346662.000001 ", 1795346662000),
        ("0.000000", 0),
    ],
)
def test_a_timestamp_is_read_to_the_millisecond(text: str, ms: int) -> None:
    assert parse_ms(text) == ms


@pytest.mark.parametrize(
    "text",
    [
        "",
        "now",
        "-1795346662.1",
        "1795346662.",
        ".5",
        "1795346662.1234567",  # more than microseconds: not Asterisk's
        "1.795346662e9",
        "1795346662,778764",
        "12345678901234.5",
        "١٧٩٥٣٤٦٦٦٢",  # digits, but not ASCII ones
        "1795346662.77 8",
        "179534666a.778764",  # Asterisk's length and shape, not its digits
        "1795346662.77876x",
        "１７９５３４６６６２.778764",
    ],
)
def test_a_garbled_timestamp_is_no_stamp(text: str) -> None:
    assert parse_ms(text) is None


def test_a_message_without_a_timestamp_has_no_stamp() -> None:
    assert stamp_ms(Message({"Event": "Hangup", "Privilege": "call,all"})) is None
    stamped = Message({"Event": "Hangup", "Privilege": "call,all", "Timestamp": "12.5"})
    assert stamp_ms(stamped) == 12500


# --- skew -----------------------------------------------------------------------------------


def test_the_offset_is_the_least_lag_seen() -> None:
    skew = Skew("xa")
    assert skew.local_ms(1_000, 9_000) == 9_000  # no sample yet: the receive time
    for stamp, received in ((1_000, 1_250), (2_000, 2_040), (3_000, 3_900)):
        skew.observe(stamp, received)
    assert skew.offset_ms == 40
    # Read 5 s late, the event is placed when it happened (on our clock).
    assert skew.local_ms(4_000, 9_000) == 4_040
    assert skew.worst_lag_ms == 860
    assert skew.local_ms(None, 9_000) == 9_000  # unstamped: the receive time


def test_a_pbx_clock_ahead_of_ours_is_taken_back() -> None:
    skew = Skew("xa")
    skew.observe(stamp_ms=62_000, received_ms=2_010)  # the PBX is a minute ahead
    skew.observe(stamp_ms=63_000, received_ms=3_005)
    assert skew.offset_ms == -59_995
    assert skew.local_ms(64_000, 7_000) == 4_005


def test_an_event_is_never_placed_after_it_was_read() -> None:
    skew = Skew("xa")
    skew.observe(1_000, 1_500)
    assert skew.local_ms(2_000, 2_100) == 2_100  # the clock was set since: not 2_500


def test_a_clock_minutes_off_is_not_believed(caplog: pytest.LogCaptureFixture) -> None:
    skew = Skew("xa")
    skew.observe(0, LIMIT_MS + 1)
    skew.observe(10, LIMIT_MS + 20)
    assert skew.offset_ms is None and skew.refused == 2
    assert skew.local_ms(10, LIMIT_MS + 20) == LIMIT_MS + 20
    assert len([r for r in caplog.records if "not used" in r.message]) == 1  # said once


def test_a_garbled_stamp_does_not_move_its_event_once_the_offset_is_known() -> None:
    skew = Skew("xa")
    skew.observe(1_000_000, 1_000_030)
    skew.observe(0, 1_000_500)  # a stamp of 1970: refused
    assert skew.offset_ms == 30
    assert skew.local_ms(0, 1_000_500) == 1_000_500


def test_reset_forgets_the_offset() -> None:
    skew = Skew("xa")
    skew.observe(1_000, 1_030)
    skew.observe(1_000, LIMIT_MS * 3)
    skew.reset()
    assert (skew.offset_ms, skew.refused, skew.worst_lag_ms) == (None, 0, 0)


# --- the live link --------------------------------------------------------------------------

AHEAD_MS = 120_000  # our clock runs two minutes ahead of the PBX's in these tests


def ahead() -> int:
    return int(time.time() * 1000) + AHEAD_MS


async def _linked(
    server: AmiServer, clock: Callable[[], int] = ahead
) -> tuple[AmiLink, list[ce.CallEvent]]:
    port = await server.start()
    link = AmiLink(
        "xa", "127.0.0.1", port, "hotline", "s", backoff=Backoff(0.01, 0.05), clock=clock
    )
    seen: list[ce.CallEvent] = []
    link.pipeline.tracker.subscribe(seen.append)
    await link.start()
    await link.wait_up(20)
    return link, seen


def _emitted(pbx: SimPbx) -> dict[str, int]:
    """The PBX's own time (epoch ms) of each event as it emits it, by name."""
    out: dict[str, int] = {}

    def note(headers: list[tuple[str, str]]) -> None:
        h = dict(headers)
        out.setdefault(h.get("UserEvent") or h["Event"], int(time.time() * 1000))

    pbx.listen(note)
    return out


async def _caller_read_late(
    server: AmiServer, seen: list[ce.CallEvent], patience_s: float
) -> tuple[ce.CallParked, ce.CallerHungUp, int]:
    """A caller waits ``patience_s`` in [acd-wait] and hangs up while the link reads nothing;
    then everything is read at once. Returns the two events and when they were read."""
    server.hold_events()
    server.pbx.place_call(CallerScript("13800000001", patience_s=patience_s, route_skill="general"))
    await wait_for(lambda: bool(server.pbx.finished))
    await asyncio.sleep(0.3)
    released = ahead()
    server.release_events()
    await wait_for(lambda: any(isinstance(e, ce.CallEnded) for e in seen))
    [parked] = [e for e in seen if isinstance(e, ce.CallParked)]
    [gone] = [e for e in seen if isinstance(e, ce.CallerHungUp)]
    return parked, gone, released


async def test_events_read_late_are_dated_when_the_pbx_says_they_happened() -> None:
    pbx = SimPbx("xa", {})
    server = AmiServer(pbx, secret="s")
    emitted = _emitted(pbx)
    link, seen = await _linked(server)
    try:
        parked, gone, released = await _caller_read_late(server, seen, patience_s=1.5)
    finally:
        await link.close()
        await server.stop()
    assert link.skew.offset_ms is not None and abs(link.skew.offset_ms - AHEAD_MS) < 100
    assert parked.at_ms is not None and gone.at_ms is not None
    # On our clock (two minutes ahead), at the moments the PBX emitted them...
    assert abs(parked.at_ms - (emitted["HotlineRoute"] + AHEAD_MS)) < 100
    assert abs(gone.at_ms - (emitted["Hangup"] + AHEAD_MS)) < 100
    # ...so the caller's wait is the one they lived, not the moment both were read.
    assert gone.at_ms - parked.at_ms == pytest.approx(1500, abs=150)
    assert released - gone.at_ms > 250
    assert gone.phase == PHASE_PARKED


async def test_the_resync_ping_sets_the_clock_before_any_event_is_read() -> None:
    pbx = SimPbx("xa", {})
    server = AmiServer(pbx, secret="s")
    server.hold_events()  # FullyBooted too: only the Ping's answer says the PBX's time
    link, _seen = await _linked(server)
    try:
        assert link.skew.offset_ms is not None
        assert abs(link.skew.offset_ms - AHEAD_MS) < 100
        assert link.sent[0] == "Ping"
    finally:
        await link.close()
        await server.stop()


async def test_without_timestampevents_an_event_is_dated_when_it_was_read() -> None:
    pbx = SimPbx("xa", {})
    server = AmiServer(pbx, secret="s", timestampevents=False)
    link, seen = await _linked(server)
    try:
        parked, gone, released = await _caller_read_late(server, seen, patience_s=1.0)
    finally:
        await link.close()
        await server.stop()
    assert parked.at_ms is not None and gone.at_ms is not None
    assert 0 <= parked.at_ms - released < 500 and 0 <= gone.at_ms - released < 500
