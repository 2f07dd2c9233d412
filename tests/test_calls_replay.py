"""The events the callback, transfer and supervisor logic reads, from real Asterisk captures."""

from __future__ import annotations

from pbx import callevents as ce
from pbx.replay import replay_file
from tests.conftest import AMI_FIXTURES


def events_of(name: str) -> list[ce.CallEvent]:
    return list(replay_file(AMI_FIXTURES / f"{name}.ami"))


def test_unanswered_originate_fails_with_reason_3_and_no_uniqueid() -> None:
    [result] = [e for e in events_of("originate_noanswer") if isinstance(e, ce.OriginateResult)]
    assert (result.action_id, result.response, result.reason) == ("cb-0002", "Failure", 3)
    assert result.call_id == "" and result.channel == "Local/noans@agents"


def test_callback_result_comes_from_the_dialplan_not_the_originate() -> None:
    events = events_of("callback_busy_noanswer")
    results = {e.action_id: e for e in events if isinstance(e, ce.OriginateResult)}
    # Both seat legs answered: OriginateResponse says Success even when the citizen was busy.
    assert {k: (r.response, r.reason) for k, r in results.items()} == {
        "cb-busy-1": ("Success", 4),
        "cb-noans-1": ("Success", 4),
    }
    outcome = {
        e.call_id: e.fields["DialStatus"]
        for e in events
        if isinstance(e, ce.CallUserEvent) and e.name == "CallbackResult"
    }
    assert outcome == {
        results["cb-busy-1"].call_id: "BUSY",
        results["cb-noans-1"].call_id: "NOANSWER",
    }
    # The seat leg is the call's first channel: the citizen it dials is its "seat".
    missed = [e for e in events if isinstance(e, ce.SeatNotAnswered)]
    assert [(e.call_id, e.dial_status) for e in missed] == [
        (results["cb-busy-1"].call_id, "BUSY"),
        (results["cb-noans-1"].call_id, "NOANSWER"),
    ]


def test_department_leg_joins_the_callers_conference() -> None:
    events = events_of("three_way")
    joined = [e for e in events if isinstance(e, ce.ConferenceJoined)]
    assert len(joined) == 3 and {e.call_id for e in joined} == {joined[0].call_id}
    dept = [e for e in joined if e.leg_call_id != e.call_id]
    assert [e.channel.split("-")[0] for e in dept] == ["Local/dept@departments"]
    left = [e for e in events if isinstance(e, ce.ConferenceLeft)]
    assert [e.call_id for e in left] == [joined[0].call_id] * 3
    dept_ok = [
        e
        for e in events
        if isinstance(e, ce.OriginateResult) and e.channel.startswith("Local/dept")
    ]
    assert [(e.response, e.call_id) for e in dept_ok] == [("Success", dept[0].leg_call_id)]


def test_department_that_does_not_answer_never_joins() -> None:
    events = events_of("three_way_dept_noanswer")
    joined = [e for e in events if isinstance(e, ce.ConferenceJoined)]
    assert all(e.leg_call_id == e.call_id for e in joined) and len(joined) == 2
    [failed] = [
        e for e in events if isinstance(e, ce.OriginateResult) and e.action_id == "dept-8009"
    ]
    assert (failed.response, failed.reason, failed.call_id) == ("Failure", 3, "")


def test_blind_transfer_names_the_callers_call() -> None:
    events = events_of("blind_transfer")
    [xfer] = [e for e in events if isinstance(e, ce.CallTransferred)]
    caller = next(e for e in events if isinstance(e, ce.CallEntered))
    assert (xfer.call_id, xfer.transfer, xfer.target) == (caller.call_id, "blind", "8001@dept-ext")
