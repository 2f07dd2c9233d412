"""The simulator ends [callback], [transfer] and ConfBridge rooms as asterisk_conf/ makes a real
Asterisk 22 end them (issue 13): Dial's g option and the h extension report a result whoever
hangs up first; a room ends when caller and seat have gone (the department is end_marked)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pbx.message import Message
from sim import conference, outbound
from sim.engine import CallerScript, SeatBehaviour, SimPbx
from sim.kernel import Channel

CITIZEN = "13912345678"
DEPT = "057187000004"


async def until(check: Callable[[], object], timeout: float = 10.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < end, "timed out"
        await asyncio.sleep(0.02)


class Events:
    def __init__(self, pbx: SimPbx) -> None:
        self.frames: list[dict[str, str]] = []
        pbx.listen(lambda f: self.frames.append(dict(f)))

    def user(self, name: str) -> list[dict[str, str]]:
        return [f for f in self.frames if f["Event"] == "UserEvent" and f["UserEvent"] == name]

    def names(self) -> list[str]:
        return [f.get("UserEvent") or f["Event"] for f in self.frames]


def _pbx() -> SimPbx:
    return SimPbx("xa", {"1001": SeatBehaviour(answer_after_s=0.05, talk_s=30)})


def _originate_callback(pbx: SimPbx) -> None:
    msg = Message(
        {
            "Channel": "PJSIP/1001",
            "Context": "callback",
            "Exten": CITIZEN,
            "Async": "true",
            "Variable": "HL_IDEMPOTENCY=cb-17-1,HL_TASK=17-1,HL_CALLID=xa-1.1,RING_TIMEOUT=20",
        }
    )
    outbound.originate(pbx, msg, "orig-cb-17-1")


def _seat_leg(pbx: SimPbx) -> Channel:
    return next(c for c in pbx.live() if c.name.startswith("PJSIP/1001-"))


async def _stop(pbx: SimPbx) -> None:
    await outbound.stop(pbx)
    await pbx.stop()


async def test_callback_seat_hanging_up_after_the_citizen_answered_reports_answer() -> None:
    pbx = _pbx()
    events = Events(pbx)
    outbound.of(pbx).phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.05, talk_s=30)
    try:
        _originate_callback(pbx)
        await until(lambda: any(f.get("DialStatus") == "ANSWER" for f in events.frames))
        assert pbx.hangup(_seat_leg(pbx).name)  # the seat hangs up first
        await until(lambda: not pbx.live())
    finally:
        await _stop(pbx)
    [result] = events.user("CallbackResult")
    assert result["DialStatus"] == "ANSWER" and result["Task"] == "17-1"
    assert outbound.db_get(pbx, "hlcb", "cb-17-1") == "ANSWER"  # not DIALLING, not CANCEL
    # h runs before the seat's channel is gone
    names = events.names()
    assert names.index("CallbackResult") < len(names) - 1 and names[-1] == "Hangup"


async def test_callback_seat_hanging_up_while_the_citizen_rings_reports_cancel() -> None:
    pbx = _pbx()
    events = Events(pbx)
    try:
        _originate_callback(pbx)  # nobody picks up: other_phones ring for ever
        await until(lambda: events.user("CallbackDial"))
        assert pbx.hangup(_seat_leg(pbx).name)
        await until(lambda: not pbx.live())
    finally:
        await _stop(pbx)
    assert [r["DialStatus"] for r in events.user("CallbackResult")] == ["CANCEL"]
    assert outbound.db_get(pbx, "hlcb", "cb-17-1") == "CANCEL"


async def test_callback_citizen_hanging_up_reports_answer_once() -> None:
    pbx = _pbx()
    events = Events(pbx)
    outbound.of(pbx).phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.05, talk_s=0.1)
    try:
        _originate_callback(pbx)
        await until(lambda: events.user("CallbackResult") and not pbx.live())
    finally:
        await _stop(pbx)
    assert [r["DialStatus"] for r in events.user("CallbackResult")] == ["ANSWER"]
    assert outbound.db_get(pbx, "hlcb", "cb-17-1") == "ANSWER"


async def _bridged(pbx: SimPbx) -> tuple[Channel, Channel]:
    caller = pbx.place_call(CallerScript("13300005555", "1", patience_s=30))
    await until(lambda: caller.context == "acd-wait")
    pbx.setvar(caller.name, "SEAT", "PJSIP/1001")
    pbx.redirect(caller.name, "acd-connect", "s")
    await until(lambda: any(c.name.startswith("PJSIP/1001-") and c.state == 6 for c in pbx.live()))
    return caller, _seat_leg(pbx)


async def test_transfer_caller_hanging_up_while_the_department_talks_reports_answer() -> None:
    pbx = _pbx()
    events = Events(pbx)
    outbound.of(pbx).phones[DEPT] = outbound.PhoneBehaviour(answer_after_s=0.05, talk_s=30)
    try:
        caller, seat = await _bridged(pbx)
        conference.blind_transfer(
            pbx, Message({"Channel": seat.name, "Context": "transfer", "Exten": DEPT})
        )
        # DeptCall first: the Dial of the seat had left ANSWER too, before [transfer] cleared it
        await until(
            lambda: events.user("DeptCall") and caller.variables.get("DIALSTATUS") == "ANSWER"
        )
        assert pbx.hangup(caller.name)
        await until(lambda: events.user("TransferResult"))
    finally:
        await _stop(pbx)
    [result] = events.user("TransferResult")
    assert (result["DialStatus"], result["Number"]) == ("ANSWER", DEPT)


# --- ConfBridge: the room ends when caller and seat have gone (issue 13, item 5) ---------------
def _into_room(pbx: SimPbx, caller: Channel, seat: Channel, room: str) -> None:
    headers = {"Channel": caller.name, "ExtraChannel": seat.name}
    conference.redirect(pbx, Message({**headers, "Context": "conference", "Exten": room}))


def _department(pbx: SimPbx, room: str, role: str = "department") -> None:
    msg = Message(
        {
            "Channel": f"PJSIP/{DEPT}@pstn",
            "Context": "conference",
            "Exten": room,
            "Variable": f"HL_CALLID=xa-1.1,HL_CONF_ROLE={role}",
        }
    )
    outbound.originate(pbx, msg, "orig-xf-1")


def _in(pbx: SimPbx, room: str) -> list[str]:
    state = conference.of(pbx).rooms.get(room)
    return sorted(m.name.split("-")[0] for m in state.members) if state else []


async def test_department_stays_with_the_seat_after_the_caller_left_then_goes_with_it() -> None:
    pbx = _pbx()
    rooms = conference.of(pbx)
    rooms.caller_stays_s, rooms.seat_leaves_after_caller_s = 0.3, None
    outbound.of(pbx).phones[DEPT] = outbound.PhoneBehaviour(answer_after_s=0.05, talk_s=60)
    try:
        caller, seat = await _bridged(pbx)
        _into_room(pbx, caller, seat, "room1")
        await until(lambda: len(_in(pbx, "room1")) == 2)
        _department(pbx, "room1")
        await until(lambda: len(_in(pbx, "room1")) == 3)
        await until(lambda: caller.gone)  # the caller hangs up: seat and department talk on
        assert _in(pbx, "room1") == ["PJSIP/1001", "PJSIP/pstn"]
        assert ("end", "room1") not in rooms.history
        assert pbx.hangup(seat.name)  # the last marked user goes: the department is kicked
        await until(lambda: ("end", "room1") in rooms.history and not pbx.live())
    finally:
        await _stop(pbx)
    leaves = [who.split("-")[0] for what, who in rooms.history if what == "leave"]
    assert leaves == ["PJSIP/pstn", "PJSIP/1001", "PJSIP/pstn"]  # caller, seat, department


async def test_after_a_warm_hand_over_the_department_goes_with_the_caller() -> None:
    pbx = _pbx()
    rooms = conference.of(pbx)
    rooms.caller_stays_s = 0.5
    outbound.of(pbx).phones[DEPT] = outbound.PhoneBehaviour(answer_after_s=0.05, talk_s=60)
    try:
        caller, seat = await _bridged(pbx)
        _into_room(pbx, caller, seat, "room2")
        await until(lambda: len(_in(pbx, "room2")) == 2)
        _department(pbx, "room2")
        await until(lambda: len(_in(pbx, "room2")) == 3)
        assert pbx.hangup(seat.name)  # the seat hands over
        await until(lambda: ("end", "room2") in rooms.history and not pbx.live())
    finally:
        await _stop(pbx)
    assert caller.gone


async def test_a_department_answering_after_everyone_left_hangs_up() -> None:
    pbx = _pbx()
    events = Events(pbx)
    rooms = conference.of(pbx)
    rooms.caller_stays_s = 0.1
    outbound.of(pbx).phones[DEPT] = outbound.PhoneBehaviour(answer_after_s=1.0, talk_s=60)
    try:
        caller, seat = await _bridged(pbx)
        _into_room(pbx, caller, seat, "room3")
        await until(lambda: len(_in(pbx, "room3")) == 2)
        _department(pbx, "room3")
        await until(lambda: ("end", "room3") in rooms.history)  # caller, then seat, left
        await until(lambda: events.frames[-1]["Event"] == "Hangup" and not pbx.live())
    finally:
        await _stop(pbx)
    answered = [f for f in events.frames if f["Event"] == "OriginateResponse"]
    assert [f["Response"] for f in answered] == ["Success"]  # it did answer, late
    joined = [who for what, who in rooms.history if what == "join"]
    assert len(joined) == 2  # the department never joined an empty room
    assert rooms.history.count(("start", "room3")) == 1
