"""Every real Asterisk capture, replayed through a real socket, gives the expected call events."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pbx import callevents as ce
from pbx.pipeline import AmiPipeline
from pbx.replay import replay_file
from tests.ami_server import playing, read_all, recv_chunks
from tests.conftest import AMI_FIXTURES

CAPTURES = sorted(AMI_FIXTURES.glob("*.ami"))
GOLDEN = Path(__file__).parent / "golden" / "ami"


async def socket_replay(capture: Path) -> list[ce.CallEvent]:
    pipeline = AmiPipeline()
    out: list[ce.CallEvent] = []
    async with playing(recv_chunks(capture)) as (host, port):
        async for data in read_all(host, port):
            out.extend(pipeline.feed(data))
    out.extend(pipeline.feed(b"\r\n\r\n"))
    assert pipeline.framer.stats.malformed_lines == 0
    assert pipeline.bad_events == 0
    return out


def as_lines(events: list[ce.CallEvent]) -> list[str]:
    return [json.dumps(e.to_json(), ensure_ascii=False) for e in events]


@pytest.mark.parametrize("capture", CAPTURES, ids=[c.stem for c in CAPTURES])
async def test_socket_replay_matches_golden(capture: Path) -> None:
    lines = as_lines(await socket_replay(capture))
    golden = GOLDEN / f"{capture.stem}.jsonl"
    if os.environ.get("UPDATE_GOLDENS"):
        golden.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    assert lines == golden.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("capture", CAPTURES, ids=[c.stem for c in CAPTURES])
def test_file_replay_equals_socket_replay(capture: Path) -> None:
    golden = (GOLDEN / f"{capture.stem}.jsonl").read_text(encoding="utf-8").splitlines()
    assert as_lines(list(replay_file(capture))) == golden


def events_of(name: str) -> list[ce.CallEvent]:
    return list(replay_file(AMI_FIXTURES / f"{name}.ami"))


def test_concurrent_mix_against_expected() -> None:
    expected = json.loads((AMI_FIXTURES / "concurrent_mix.expected.json").read_text())
    events = events_of("concurrent_mix")
    ended = {e.call_id: e for e in events if isinstance(e, ce.CallEnded)}
    for caller in expected["callers"]:
        end = ended[caller["linkedid"]]
        assert end.answered == caller["outcome"].endswith("answered"), caller["caller"]
        assert end.cause == caller["hangup_cause"]
    answered = [c for c in expected["callers"] if ended[c["linkedid"]].answered]
    assert len(answered) == expected["counts"]["answered"] == 11
    by_name = {c["caller"]: c["linkedid"] for c in expected["callers"]}
    abandon = [e for e in events if isinstance(e, ce.CallerHungUp) and e.call_id == by_name["c06"]]
    assert abandon and abandon[0].phase in {"parked", "ringing"}
    overflow = [e for e in events if isinstance(e, ce.CallQueued) and e.call_id == by_name["c07"]]
    assert [q.queue for q in overflow] == ["business", "city"]
    missed = [e for e in events if isinstance(e, ce.SeatNotAnswered)]
    # Five rings of the dead member for c03, and the member ringing when c06 gave up.
    assert sum(e.dial_status == "NOANSWER" for e in missed) == 5
    assert [e.call_id for e in missed if e.dial_status == "CANCEL"] == [by_name["c06"]]
    choices = [e for e in events if isinstance(e, ce.IvrChoice)]
    assert {e.fields["Target"] for e in choices} == {"general_q", "business"}


def test_abandon_while_parked_is_seen_from_hangup_alone() -> None:
    events = events_of("acd_abandon_parked")
    # The recording placed its caller with an Originate: its OriginateResponse is not the call's.
    kinds = [e.kind for e in events if e.kind != "originate_result"]
    # ... and set the caller ID just after the channel appeared (a PJSIP call has it at once).
    assert kinds == [
        "call_entered",
        "caller_id_changed",
        "call_parked",
        "caller_hung_up",
        "call_ended",
    ]
    [changed] = [e for e in events if isinstance(e, ce.CallerIdChanged)]
    assert (changed.caller_num, changed.caller_name) == ("13800004444", "李企业")
    hung = next(e for e in events if isinstance(e, ce.CallerHungUp))
    assert hung.phase == "parked" and hung.cause == 16


def test_redirect_answer_and_noanswer_retry() -> None:
    answer = [e.kind for e in events_of("acd_redirect_answer")]
    assert answer.count("seat_answered") == 1 and "seat_not_answered" not in answer
    retry = events_of("acd_redirect_noanswer_retry")
    not_answered = [e for e in retry if isinstance(e, ce.SeatNotAnswered)]
    assert [e.dial_status for e in not_answered] == ["NOANSWER"]
    parked = next(e for e in retry if isinstance(e, ce.CallParked))
    assert parked.fields == {"Skill": "enterprise", "City": "xa", "CallerNum": "13800002222"}
    assert [e.kind for e in retry][-1] == "call_ended"


def test_three_way_links_the_department_leg() -> None:
    joins = [e for e in events_of("three_way") if isinstance(e, ce.ConferenceJoined)]
    assert len(joins) == 3
    assert len({j.call_id for j in joins}) == 1
    assert len({j.leg_call_id for j in joins}) == 2  # the department has its own Linkedid


def test_transfers() -> None:
    blind = [e for e in events_of("blind_transfer") if isinstance(e, ce.CallTransferred)]
    assert [(e.transfer, e.target) for e in blind] == [("blind", "8001@dept-ext")]
    attended = [e for e in events_of("attended_transfer") if isinstance(e, ce.CallTransferred)]
    assert [e.transfer for e in attended] == ["attended"]
    assert attended[0].target.startswith("Local/8002@dept-phones")


def test_reconnect_resync_knows_every_call_that_is_up() -> None:
    events = events_of("reconnect_midcall.after")
    resynced = [e for e in events if isinstance(e, ce.CallResynced)]
    # A is talking to the seat, B waits in the queue, C is still in the IVR.
    assert sorted(e.phase for e in resynced) == ["ivr", "parked", "talking"]
    assert sum(e.channels for e in resynced) == 8
    ended = {e.call_id for e in events if isinstance(e, ce.CallEnded)}
    assert {e.call_id for e in resynced} <= ended


@pytest.mark.parametrize("capture", CAPTURES, ids=[c.stem for c in CAPTURES])
def test_attaching_mid_call_never_crashes(capture: Path) -> None:
    from pbx.framing import AmiFramer

    framer = AmiFramer()
    messages = framer.feed(capture.read_bytes() + b"\r\n\r\n")
    step = max(1, len(messages) // 40)
    for drop in range(1, len(messages), step):
        pipeline = AmiPipeline()
        events = []
        for message in messages[drop:]:
            events.extend(pipeline.feed_message(message))
        ended = [e for e in events if isinstance(e, ce.CallEnded)]
        # Every call that ends was known by then; nothing is reported twice.
        assert len({e.call_id for e in ended}) == len(ended)
