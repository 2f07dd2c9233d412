"""Calls whose channels Asterisk moves: a pickup and a REFER (blonde) transfer, synthesized.

The sequences in tests/fixtures/tracker/ are written by hand, field for field as Asterisk 22
emits them (see that folder's README): a masquerade swaps uniqueids, and a channel that joins
a bridge takes the oldest Linkedid in it.
"""

from __future__ import annotations

from pathlib import Path

from pbx import callevents as ce
from pbx.framing import AmiFramer
from pbx.message import Message
from pbx.pipeline import AmiPipeline
from pbx.replay import replay_file

TRACKER_FIXTURES = Path(__file__).parent / "fixtures" / "tracker"
CALLER_A = "1796001200.31"  # the PSTN caller whose ringing seat is picked up
PICKER = "1796001211.33"  # seat 1002's own call (it dialled the pickup code)
CALLER_B = "1796002400.41"  # the PSTN caller handed on by a REFER before the target answered
CONSULT = "1796002455.43"  # seat 1001's second call, to 1003


def messages(name: str) -> list[Message]:
    return AmiFramer().feed((TRACKER_FIXTURES / name).read_bytes() + b"\r\n\r\n")


def run(msgs: list[Message]) -> list[ce.CallEvent]:
    pipeline = AmiPipeline()
    out: list[ce.CallEvent] = []
    for message in msgs:
        out.extend(pipeline.feed_message(message))
    assert pipeline.bad_events == 0
    return out


def summary(events: list[ce.CallEvent]) -> list[tuple[str, str]]:
    return [(e.kind, e.call_id) for e in events if e.kind != "originate_result"]


def test_pickup_answers_the_callers_call_and_ends_it() -> None:
    events = list(replay_file(TRACKER_FIXTURES / "pickup.synth.ami"))
    assert summary(events) == [
        ("call_entered", CALLER_A),
        ("call_parked", CALLER_A),
        ("seat_ringing", CALLER_A),
        ("call_entered", PICKER),
        ("call_merged", PICKER),
        ("call_ended", PICKER),
        ("seat_answered", CALLER_A),
        ("caller_hung_up", CALLER_A),
        ("call_ended", CALLER_A),
    ]
    answered = next(e for e in events if isinstance(e, ce.SeatAnswered))
    assert answered.seat_channel == "PJSIP/1002-00000012"  # the phone that picked up
    hung = next(e for e in events if isinstance(e, ce.CallerHungUp))
    assert hung.phase == "talking"
    ended = {e.call_id: e for e in events if isinstance(e, ce.CallEnded)}
    assert ended[CALLER_A].answered and ended[CALLER_A].cause == 16
    # The pickup phone is not an unanswered call of its own: it was answered, then merged.
    merged = next(e for e in events if isinstance(e, ce.CallMerged))
    assert (merged.into_call_id, merged.channel) == (CALLER_A, "PJSIP/1002-00000012")
    assert ended[PICKER].answered and ended[PICKER].cause == 26


def test_pickup_whose_dial_end_comes_before_the_pickup_event() -> None:
    """The Pickup and the dialler's DialEnd come from two threads: either may be first."""
    msgs = messages("pickup.synth.ami")
    names = [m.headers.get("Event") for m in msgs]
    pickup, dial_end = names.index("Pickup"), names.index("DialEnd")
    msgs.insert(pickup, msgs.pop(dial_end))
    events = run(msgs)
    in_order = summary(list(replay_file(TRACKER_FIXTURES / "pickup.synth.ami")))
    assert sorted(summary(events)) == sorted(in_order)
    answered = next(e for e in events if isinstance(e, ce.SeatAnswered))
    assert answered.seat_channel == "PJSIP/1002-00000012"
    ended = [e for e in events if isinstance(e, ce.CallEnded)]
    assert sorted((e.call_id, e.answered) for e in ended) == [(CALLER_A, True), (PICKER, True)]


def test_refer_before_the_target_answers_names_target_and_transferer() -> None:
    events = list(replay_file(TRACKER_FIXTURES / "blonde_transfer_refer.synth.ami"))
    [xfer] = [e for e in events if isinstance(e, ce.CallTransferred)]
    assert (xfer.call_id, xfer.transfer) == (CALLER_B, "attended")
    assert xfer.target == "PJSIP/1003-00000023"  # what the second call was dialling
    assert xfer.transferer == "PJSIP/1001-00000021"
    ended = [(e.call_id, e.answered) for e in events if isinstance(e, ce.CallEnded)]
    # The seat's consultation call ends when its leg (moved away by the masquerade) hangs up;
    # the caller's call ends only when the department it was handed to hangs up too.
    assert ended == [(CONSULT, False), (CALLER_B, True)]
    assert summary(events)[-2:] == [("caller_hung_up", CALLER_B), ("call_ended", CALLER_B)]


def test_a_hang_up_carrying_an_ended_calls_linkedid_still_counts() -> None:
    """The department joined the caller's bridge and took its Linkedid; the caller's call
    ended first (in the tracker's eyes), and the department's hang-up names it."""
    msgs = messages("blonde_transfer_refer.synth.ami")
    last = msgs[-1]
    assert last.headers["Event"] == "Hangup"
    assert last.headers["Linkedid"] == CALLER_B and last.headers["Uniqueid"] != CALLER_B
    pipeline = AmiPipeline()
    for message in msgs[:-1]:
        pipeline.feed_message(message)
    assert set(pipeline.tracker.calls) == {CALLER_B}  # it waits for the department
    ends = [e for e in pipeline.feed_message(last) if isinstance(e, ce.CallEnded)]
    assert [e.call_id for e in ends] == [CALLER_B]
    assert pipeline.tracker.calls == {}


def test_caller_id_set_after_the_channel_appeared_is_reported() -> None:
    msgs = messages("pickup.synth.ami")
    first = msgs[0].headers
    assert first["Event"] == "Newchannel"
    headers = {**first, "Event": "NewCallerid", "CallerIDNum": "13812345679"}
    headers["CallerIDName"] = "张三"
    headers["CID-CallingPres"] = "0 (Presentation Allowed, Not Screened)"
    again = Message(dict(headers))  # the same caller ID twice is one change
    events = run([msgs[0], Message(dict(headers)), again, *msgs[1:]])
    changed = [e for e in events if isinstance(e, ce.CallerIdChanged)]
    assert [(e.call_id, e.caller_num, e.caller_name) for e in changed] == [
        (CALLER_A, "13812345679", "张三")
    ]


def test_recorded_pickup_on_a_real_asterisk() -> None:
    events = list(replay_file(TRACKER_FIXTURES / "pickup_local.recorded.ami"))
    caller, picker = "1796495100.0", "1796495104.4"
    answered = [e for e in events if isinstance(e, ce.SeatAnswered)]
    assert [(e.call_id, e.seat_channel) for e in answered] == [
        (caller, "Local/picker@sim-callers-00000002;1")
    ]
    ended = [(e.call_id, e.answered) for e in events if isinstance(e, ce.CallEnded)]
    assert ended == [(picker, True), (caller, True)]
    hung = next(e for e in events if isinstance(e, ce.CallerHungUp))
    assert (hung.call_id, hung.phase) == (caller, "talking")
