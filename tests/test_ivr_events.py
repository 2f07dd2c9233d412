"""Controller side: UserEvent headers -> typed requests, and the path recorder.

Inputs come from two real sources: the events the generated dialplan emits (walked from the
committed extensions_ivr.conf) and UserEvents recorded from Asterisk 22.10.1.
"""

from __future__ import annotations

import pytest

from ivr.compile import TARGET
from ivr.events import (
    CallbackReason,
    CallbackRequest,
    CallEnter,
    EventError,
    IvrChoice,
    RouteRequest,
    mask_number,
    parse_callback,
    parse_choice,
    parse_enter,
    parse_route,
    parse_user_event,
)
from ivr.paths import Outcome, PathRecorder, summarize
from sim.dialplan import Call, parse, walk
from tests.conftest import AMI_FIXTURES

PLAN = parse(TARGET.read_text(encoding="utf-8"))
FIXTURES = AMI_FIXTURES


def as_ami(event: dict[str, str]) -> dict[str, str]:
    """The walker's event as the AMI layer delivers it: Event: UserEvent, name in UserEvent."""
    fields = {k: v for k, v in event.items() if k != "Event"}
    return {"Event": "UserEvent", "Privilege": "user,all", "UserEvent": event["Event"], **fields}


_SEQ = iter(range(500, 10_000))


def dialplan_events(inputs: list[str], **globals_: str) -> list[dict[str, str]]:
    call = Call(inputs=inputs, globals=dict(globals_))
    call.vars["HL_CALLID"] = f"1795352683.{next(_SEQ)}"
    return [as_ami(e) for e in walk(PLAN, call, "ivr-12345").events]


def recorded_user_events(name: str) -> list[dict[str, str]]:
    """UserEvents of one kind from the real captures (raw AMI text)."""
    out = []
    for path in sorted(FIXTURES.glob("*.ami")):
        # bytes: read_text would turn the protocol's CRLF into LF
        for block in path.read_bytes().decode("utf-8").split("\r\n\r\n"):
            headers = dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line)
            if headers.get("UserEvent") == name:
                out.append(headers)
    return out


def test_route_from_generated_dialplan() -> None:
    headers = dialplan_events(["5", "2"])
    call_id = headers[0]["CallId"]
    choice1, choice2, route = [parse_user_event(e, cities={"xa"}) for e in headers]
    assert choice1 == IvrChoice(call_id, "xa", "12345", "i", "replay")
    assert isinstance(choice2, IvrChoice) and choice2.branch == "enterprise"
    assert route == RouteRequest(call_id, "xa", "enterprise", "13800001234", "i2", 0)


def test_callback_from_generated_dialplan() -> None:
    events = dialplan_events(["1", "1"], OVERLOAD_XA="1")
    parsed = [parse_user_event(e) for e in events]
    assert [type(p) for p in parsed] == [IvrChoice, type(None), CallbackRequest]  # Offer: None
    request = parsed[-1]
    assert isinstance(request, CallbackRequest)
    assert (request.skill, request.reason, request.path) == (
        "general",
        CallbackReason.overload,
        "1",
    )
    assert request.masked_caller == "138****1234"


def test_real_capture_predating_the_contract_is_refused_clearly() -> None:
    real = recorded_user_events("HotlineRoute")
    assert len(real) >= 5
    with pytest.raises(EventError) as exc:
        parse_route(real[0])
    assert str(exc.value) == "HotlineRoute: missing CallId, Path, CallPriority"
    # the recorded CallbackAccepted named the number `Caller`: refused, with the reason
    (accepted,) = recorded_user_events("CallbackAccepted")
    with pytest.raises(EventError, match="missing CallId, City, Skill, CallerNum, Path, Reason"):
        parse_callback(accepted)


def test_real_capture_completed_with_contract_fields_parses() -> None:
    real = recorded_user_events("HotlineRoute")[0]
    fixed = {**real, "CallId": real["Linkedid"], "Path": "2", "CallPriority": "0"}
    route = parse_route(fixed)
    assert (route.city, route.skill, route.call_id) == ("xa", "enterprise", real["Linkedid"])


GOOD = {
    "UserEvent": "HotlineRoute",
    "City": "xa",
    "CallId": "1795352683.495",
    "Skill": "enterprise",
    "CallerNum": "13800001111",
    "Path": "2",
    "CallPriority": "0",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Skill": "vip"}, "Skill 'vip' unknown (known: general, enterprise, foreign)"),
        ({"City": "XA"}, "City 'XA' is not a city id"),
        ({"City": "bj"}, "City 'bj' is not configured"),
        ({"CallId": "abc"}, "CallId 'abc' is not an Asterisk unique id"),
        ({"CallerNum": "138\r\nAction: Originate"}, "CallerNum"),
        ({"CallPriority": "high"}, "CallPriority 'high' is not 0..9"),
        ({"CallPriority": "12"}, "CallPriority '12' is not 0..9"),
        ({"Path": "2;3"}, "Path '2;3' is not a menu path"),
    ],
)
def test_bad_route_fields(change: dict[str, str], message: str) -> None:
    with pytest.raises(EventError) as exc:
        parse_route({**GOOD, **change}, cities={"xa", "xy"})
    assert message in str(exc.value)
    assert "13800001111" not in str(exc.value)


def test_every_problem_in_one_message() -> None:
    with pytest.raises(EventError) as exc:
        parse_route({"UserEvent": "HotlineRoute", "City": "x y", "Skill": "vip"})
    text = str(exc.value)
    assert text.startswith("HotlineRoute: missing CallId, CallerNum, Path, CallPriority")
    assert "City 'x y'" in text and "Skill 'vip'" in text


def test_withheld_numbers() -> None:
    route = parse_route({**GOOD, "CallerNum": "anonymous"})
    assert route.caller_num == ""
    bad = {**GOOD, "UserEvent": "CallbackAccepted", "CallerNum": "", "Reason": "closed"}
    with pytest.raises(EventError, match="withheld: nobody to call back"):
        parse_callback(bad)
    assert parse_callback({**bad, "CallerNum": "+8613800001111"}).reason is CallbackReason.closed


def test_numbers_stay_out_of_repr_and_logs() -> None:
    route = parse_route(GOOD)
    assert "13800001111" not in repr(route)
    assert route.masked_caller == "138****1111"
    assert mask_number("87654321") == "8***4321" and mask_number("110") == "***"


def test_choice_fields_and_other_events() -> None:
    base = {"UserEvent": "IvrChoice", "City": "xa", "CallId": "1.2", "Menu": "12345"}
    assert parse_choice({**base, "Digit": "t", "Branch": "general"}).digit == "t"
    with pytest.raises(EventError, match="Digit '22' is not a key, t or i"):
        parse_choice({**base, "Digit": "22", "Branch": "general"})
    assert parse_user_event({"Event": "UserEvent", "UserEvent": "SeatDial"}) is None
    assert parse_user_event({"Event": "Hangup"}) is None


def test_recorder_counts_who_pressed_2() -> None:
    recorder = PathRecorder()
    finished = []
    scenarios = [["2"], ["5", "2"], ["1"], ["t"], ["7", "8", "*"], ["2"]]
    for inputs in scenarios:
        for headers in dialplan_events(inputs):
            event = parse_user_event(headers)
            if isinstance(event, IvrChoice):
                recorder.choice(event)
            elif isinstance(event, RouteRequest):
                finished.append(recorder.routed(event))
    assert len(recorder) == 0
    stats = summarize(finished)
    assert stats.callers_who_pressed("12345", "2") == 3
    assert stats.callers_who_pressed("12345", "i") == 2  # per call, not per key press
    assert stats.skills == {"enterprise": 3, "general": 3}
    rows = [p.as_record() for p in finished]
    assert rows[1] == {
        "call_id": rows[1]["call_id"],
        "city": "xa",
        "menu": "12345",
        "digits": "i2",
        "branches": "replay,enterprise",
        "invalid": 1,
        "outcome": "routed",
        "skill": "enterprise",
    }
    assert rows[4]["digits"] == "iii" and rows[4]["skill"] == "general"


def test_recorder_hangup_callback_and_bound() -> None:
    recorder = PathRecorder(max_pending=2)
    for n in range(3):
        recorder.choice(IvrChoice(f"1.{n}", "xa", "12345", "i", "replay"))
    assert len(recorder) == 2 and [p.call_id for p in recorder.evicted] == ["1.0"]
    assert recorder.evicted[0].outcome is Outcome.evicted
    gone = recorder.hangup("1.1")
    assert gone is not None and gone.outcome is Outcome.hangup and gone.digits == "i"
    assert recorder.hangup("1.1") is None  # already finished: not in the menu any more
    cb = recorder.callback(CallbackRequest("1.2", "xa", "general", "1", "i", CallbackReason.closed))
    assert cb.outcome is Outcome.callback and cb.as_record()["outcome"] == "callback"
    assert summarize([gone, cb]).outcomes == {"hangup": 1, "callback": 1}
    with pytest.raises(ValueError, match="at least 1"):
        PathRecorder(max_pending=0)


def test_enter_and_hangup_during_the_welcome() -> None:
    headers = dialplan_events_from_pstn()
    enter = parse_user_event(headers[0], cities={"xa"})
    assert isinstance(enter, CallEnter) and enter.holiday is False
    assert "13800001234" not in repr(enter) and enter.masked_caller == "138****1234"
    recorder = PathRecorder()
    recorder.enter(enter)
    gone = recorder.hangup(enter.call_id)
    assert gone is not None and gone.as_record()["digits"] == ""
    assert gone.as_record()["outcome"] == "hangup"
    with pytest.raises(EventError, match="Holiday 'yes' is not 0 or 1"):
        parse_enter({**headers[0], "Holiday": "yes"})


def dialplan_events_from_pstn() -> list[dict[str, str]]:
    conf = TARGET.parent
    full = parse((conf / "extensions.conf").read_text(encoding="utf-8") + TARGET.read_text())
    call = Call(inputs=[], globals={"HL_CITY": "xa", "HL_HOLIDAY": "0"})
    call.vars = {"UNIQUEID": f"1795352683.{next(_SEQ)}"}
    walk(full, call, "from-pstn", "_X.")
    assert call.end == "caller gone"  # hung up while the menu played
    return [as_ami(e) for e in call.events]
