"""The simulator's Originate, ConfBridge, BlindTransfer and ChanSpy events have the shapes of
the real Asterisk 22 captures (same headers; values the controller reads alike)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pbx.framing import AmiFramer
from pbx.message import Message
from sim import conference, outbound
from sim.engine import CallerScript, SeatBehaviour, SimPbx
from sim.kernel import Channel
from tests.conftest import AMI_FIXTURES


def captured(name: str, event: str) -> list[Message]:
    framer = AmiFramer()
    messages = framer.feed((AMI_FIXTURES / f"{name}.ami").read_bytes() + b"\r\n\r\n")
    return [m for m in messages if m.get("Event") == event]


def keys(message: Message | list[tuple[str, str]]) -> set[str]:
    items = message.items() if isinstance(message, Message) else message
    return {k for k, _ in items}


class Recorder:
    def __init__(self, pbx: SimPbx) -> None:
        self.frames: list[list[tuple[str, str]]] = []
        pbx.listen(self.frames.append)

    def of(self, event: str) -> list[dict[str, str]]:
        return [dict(f) for f in self.frames if dict(f)["Event"] == event]

    def raw(self, event: str) -> list[list[tuple[str, str]]]:
        return [f for f in self.frames if dict(f)["Event"] == event]


def action(**headers: str) -> Message:
    return Message(headers)


async def until(check: Callable[[], object], timeout: float = 10.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < end, "timed out"
        await asyncio.sleep(0.02)


async def test_originate_answers_and_failures_look_like_asterisk() -> None:
    pbx = SimPbx("xa", {"2001": SeatBehaviour(answer_after_s=0.05), "2002": SeatBehaviour(None)})
    rec = Recorder(pbx)
    outbound.of(pbx).phones["13800000201"] = outbound.PhoneBehaviour(busy=True)
    common = {"Context": "callback", "Exten": "13800000201", "Async": "true"}
    outbound.originate(pbx, action(Channel="PJSIP/2001", Timeout="2000", **common), "cb-1")
    outbound.originate(pbx, action(Channel="PJSIP/2002", Timeout="300", **common), "cb-2")
    await until(lambda: len(rec.of("OriginateResponse")) == 2 and rec.of("UserEvent")[-1:])
    await until(lambda: any(u["UserEvent"] == "CallbackResult" for u in rec.of("UserEvent")))
    ok_real = captured("callback_busy_noanswer", "OriginateResponse")[0]
    fail_real = captured("originate_noanswer", "OriginateResponse")[0]
    ok, fail = sorted(rec.raw("OriginateResponse"), key=lambda f: dict(f)["Response"], reverse=True)
    assert keys(ok) == keys(ok_real) and keys(fail) == keys(fail_real)
    assert (dict(ok)["Reason"], dict(fail)["Reason"]) == (ok_real["Reason"], fail_real["Reason"])
    assert dict(fail)["Uniqueid"] == fail_real["Uniqueid"] == "<unknown>"
    assert dict(fail)["Channel"] == "PJSIP/2002"  # the bare dial string, as recorded
    result = [u for u in rec.of("UserEvent") if u["UserEvent"] == "CallbackResult"]
    assert [u["DialStatus"] for u in result] == ["BUSY"]
    busy_end = [d for d in rec.of("DialEnd") if d.get("DialStatus") == "BUSY"]
    real_end = [
        d for d in captured("callback_busy_noanswer", "DialEnd") if d["DialStatus"] == "BUSY"
    ]
    assert busy_end and keys(list(busy_end[0].items())) >= keys(real_end[0]) - {"Privilege"}
    with_refusal = action(Channel="Local/9999@nosuchcontext", Application="Wait")
    try:
        outbound.originate(pbx, with_refusal, "cb-3")
    except outbound.OriginateRefused as exc:
        assert str(exc) == "Originate failed"  # the sync refusal text of originate_noanswer
    else:
        raise AssertionError("an Originate of an unknown channel was accepted")
    await outbound.stop(pbx)
    await pbx.stop()


async def _bridged(pbx: SimPbx) -> tuple[Channel, Channel]:
    caller = pbx.place_call(CallerScript("13300005555", "1", patience_s=30))
    await until(lambda: caller.context == "acd-wait")
    pbx.setvar(caller.name, "SEAT", "PJSIP/1001")
    pbx.redirect(caller.name, "acd-connect", "s")
    await until(lambda: any(c.name.startswith("PJSIP/1001-") and c.state == 6 for c in pbx.live()))
    seat = next(c for c in pbx.live() if c.name.startswith("PJSIP/1001-"))
    return caller, seat


async def test_conference_events_look_like_asterisk() -> None:
    pbx = SimPbx("xa", {"1001": SeatBehaviour(answer_after_s=0.05, talk_s=30)})
    rec = Recorder(pbx)
    conference.of(pbx).caller_stays_s = 0.5
    outbound.of(pbx).phones["2001"] = outbound.PhoneBehaviour(answer_after_s=0.05)
    caller, seat = await _bridged(pbx)
    text = conference.redirect(
        pbx,
        action(Channel=caller.name, ExtraChannel=seat.name, Context="conference", Exten="room1"),
    )
    assert text == "Dual Redirect successful"
    outbound.originate(
        pbx, action(Channel="PJSIP/2001@pstn", Context="conference", Exten="room1"), "dept-1"
    )
    await until(lambda: rec.of("ConfbridgeEnd"))
    for event in ("ConfbridgeStart", "ConfbridgeJoin", "ConfbridgeLeave", "ConfbridgeEnd"):
        real = captured("three_way", event)
        mine = rec.raw(event)
        assert mine and keys(mine[0]) == keys(real[0]), event
    joins = rec.of("ConfbridgeJoin")
    # BridgeNumChannels counts the hidden announcer: 2, 3, 4 for three members (three_way).
    assert [j["BridgeNumChannels"] for j in joins] == ["2", "3", "4"]
    assert [j["BridgeNumChannels"] for j in captured("three_way", "ConfbridgeJoin")] == [
        "2",
        "3",
        "4",
    ]
    dept = [
        j
        for j in joins
        if j["Channel"].startswith("PJSIP/pstn-") and j["Uniqueid"] != caller.uniqueid
    ]
    assert dept and dept[0]["Linkedid"] != caller.linkedid  # an Originate has its own Linkedid
    await outbound.stop(pbx)
    await pbx.stop()


async def test_blind_transfer_and_chanspy_have_no_channel_header() -> None:
    pbx = SimPbx("xa", {"1001": SeatBehaviour(answer_after_s=0.05, talk_s=30)})
    rec = Recorder(pbx)
    phones = outbound.of(pbx).phones
    phones["9001"] = outbound.PhoneBehaviour(answer_after_s=0.05, talk_s=0.2)
    phones["8001"] = outbound.PhoneBehaviour(answer_after_s=0.05, talk_s=0.2)
    caller, seat = await _bridged(pbx)
    outbound.originate(
        pbx,
        action(
            Channel="PJSIP/9001",
            Context="supervisor",
            Exten="listen",
            Variable="SPY_TARGET=PJSIP/1001",
        ),
        "spy-listen",
    )
    await until(lambda: rec.of("ChanSpyStop"))
    for event in ("ChanSpyStart", "ChanSpyStop"):
        assert keys(rec.raw(event)[0]) == keys(captured("chanspy", event)[0]), event
    assert rec.of("ChanSpyStart")[0]["SpyeeChannel"] == seat.name
    conference.blind_transfer(pbx, action(Channel=seat.name, Context="transfer", Exten="8001"))
    await until(lambda: any(f["call_id"] == caller.linkedid for f in pbx.finished))
    [mine] = rec.raw("BlindTransfer")
    [real] = captured("blind_transfer", "BlindTransfer")
    assert keys(mine) == keys(real) and "Channel" not in keys(mine)
    assert dict(mine)["TransfereeLinkedid"] == caller.linkedid
    assert {"call_id": caller.linkedid, "outcome": "transfer_answer"} in pbx.finished
    assert seat.gone  # the seat's leg is hung up by the transfer
    await outbound.stop(pbx)
    await pbx.stop()


async def test_atxfer_is_refused_without_a_call_and_completes_on_the_seats_hangup() -> None:
    pbx = SimPbx("xa", {"1001": SeatBehaviour(answer_after_s=0.05, talk_s=30)})
    rec = Recorder(pbx)
    outbound.of(pbx).phones["8002"] = outbound.PhoneBehaviour(answer_after_s=0.05, talk_s=0.2)
    try:
        conference.atxfer(
            pbx, action(Channel="PJSIP/1001-0000beef", Context="transfer", Exten="8002")
        )
    except LookupError as exc:
        assert str(exc).strip("'") == "No such channel"
    else:
        raise AssertionError("an Atxfer of a missing channel was accepted")
    caller, seat = await _bridged(pbx)
    conference.atxfer(pbx, action(Channel=seat.name, Context="transfer", Exten="8002"))
    await until(lambda: any(d.get("DestExten") == "8002" for d in rec.of("DialEnd")))
    digits = [d["Digit"] for d in rec.of("DTMFEnd")]
    assert digits == ["*", "2", "8", "0", "0", "2"]
    assert not rec.of("AttendedTransfer")  # consulting: nothing is transferred yet
    pbx.hangup(seat.name, 16)
    await until(lambda: any(f["call_id"] == caller.linkedid for f in pbx.finished))
    [done] = rec.of("AttendedTransfer")
    [real] = captured("attended_transfer", "AttendedTransfer")
    assert keys(rec.raw("AttendedTransfer")[0]) == keys(real)
    assert done["TransfereeChannel"] == caller.name and done["Result"] == "Success"
    assert done["TransferTargetChannel"].startswith("Local/8002@transfer-")
    assert done["TransferTargetLinkedid"] == caller.linkedid
    assert seat.gone and caller.gone
    await outbound.stop(pbx)
    await pbx.stop()
