"""Controller side: UserEvent headers -> typed requests, and the path recorder.

Inputs come from two real sources: the events the generated dialplan emits (walked from the
committed extensions_ivr.conf) and UserEvents recorded from Asterisk 22.10.1.
"""

from __future__ import annotations

import pytest

from ivr.compile import TARGET
from ivr.events import (
    CallbackReason,
    EventError,
    RouteRequest,
    parse_callback,
    parse_route,
)
from sim.dialplan import Call, parse, walk
from store.privacy import mask_phone
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
    names = [e["UserEvent"] for e in headers]
    assert names == ["IvrChoice", "IvrChoice", "HotlineRoute"]
    assert [e["Branch"] for e in headers[:2]] == ["replay", "enterprise"]
    route = parse_route(headers[-1], cities={"xa"})
    assert route == RouteRequest(call_id, "xa", "enterprise", "13800001234", "i2", 0)


def test_callback_from_generated_dialplan() -> None:
    events = dialplan_events(["1", "1"], OVERLOAD_XA="1")
    assert [e["UserEvent"] for e in events] == ["IvrChoice", "CallbackOffer", "CallbackAccepted"]
    request = parse_callback(events[-1])
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
    assert mask_phone("87654321") == "8***4321" and mask_phone("110") == "***"
