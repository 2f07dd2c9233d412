"""Once every channel has hung up, every call the tracker opened has ended, exactly once.

Checked over every capture (real and synthesized), attached at any point as to a busy
Asterisk, and over event sequences generated with hypothesis from a small model of what
Asterisk 22 does to channels: dial, answer and bridge (the oldest Linkedid is copied onto
the bridge's channels), pickup and REFER transfer (a masquerade: the moved channel keeps its
identity, the one it replaced hangs up), blind transfer, caller-ID changes, hang-ups in any
order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pbx import callevents as ce
from pbx.framing import AmiFramer
from pbx.message import Message
from pbx.pipeline import AmiPipeline
from tests.conftest import AMI_FIXTURES

TRACKER_FIXTURES = Path(__file__).parent / "fixtures" / "tracker"
CAPTURES = sorted([*AMI_FIXTURES.glob("*.ami"), *TRACKER_FIXTURES.glob("*.ami")])
# Events that do not open a call: an Originate's answer, the resync's summary, and a
# conference departure (Asterisk reports it after the channel's Hangup, so attached late a
# tracker hears of a call only as it leaves).
NOT_A_CALL = {"originate_result", "resync_complete", "conference_left"}


def all_hung_up(messages: list[Message]) -> bool:
    """Did every channel the stream shows (or a resync lists) hang up by its end?"""
    up: set[str] = set()
    listed: set[str] | None = None
    for m in messages:
        name, uid = m.headers.get("Event"), m.headers.get("Uniqueid")
        if name == "CoreShowChannel" and uid:
            listed = (listed or set()) | {uid}
        elif name == "CoreShowChannelsComplete":
            up, listed = listed or set(), None
        elif name == "Newchannel" and uid:
            up.add(uid)
        elif name == "Hangup" and uid:
            up.discard(uid)
    return not up


def check(messages: list[Message], everything_hung_up: bool) -> None:
    pipeline = AmiPipeline()
    opened: set[str] = set()
    ended: set[str] = set()
    for message in messages:
        for event in pipeline.feed_message(message):
            if isinstance(event, ce.ResyncComplete):
                opened = set(event.calls)  # the resync closed every call not listed
            elif isinstance(event, ce.CallEnded):
                assert event.call_id in opened, f"call_ended for a call never opened: {event}"
                assert event.call_id not in ended, f"call_ended twice: {event}"
                ended.add(event.call_id)
            elif event.kind not in NOT_A_CALL and event.call_id not in ended:
                opened.add(event.call_id)
    if everything_hung_up:
        assert opened <= ended, f"calls never ended: {sorted(opened - ended)}"
        assert pipeline.tracker.calls == {}


def capture_messages(path: Path) -> list[Message]:
    return AmiFramer().feed(path.read_bytes() + b"\r\n\r\n")


@pytest.mark.parametrize("capture", CAPTURES, ids=[c.name for c in CAPTURES])
def test_every_capture_ends_every_call_once(capture: Path) -> None:
    messages = capture_messages(capture)
    everything = all_hung_up(messages)
    for drop in range(len(messages)):  # attached to a busy Asterisk after `drop` messages
        check(messages[drop:], everything)


def test_the_synthesized_captures_hang_everything_up() -> None:
    """The invariant's premise holds there, so the test above checks its conclusion."""
    synth = sorted(TRACKER_FIXTURES.glob("*.ami"))
    assert synth and all(all_hung_up(capture_messages(p)) for p in synth)


# --- a model of Asterisk's channels, to generate event sequences --------------------------


@dataclass
class Chan:
    name: str
    uid: str
    lid: str
    num: str
    bridge: str | None = None
    dialling: Chan | None = None  # the channel it is dialling (app_dial's outgoing one)


@dataclass
class Model:
    """Emits the events Asterisk emits for each step, as AMI messages."""

    out: list[Message] = field(default_factory=list)
    up: list[Chan] = field(default_factory=list)
    serial: int = 0
    bridges: dict[str, list[Chan]] = field(default_factory=dict)

    # -- emitting ------------------------------------------------------------------------
    def snap(self, c: Chan, prefix: str = "", state: str = "Up") -> dict[str, str]:
        p = prefix
        return {
            f"{p}Channel" if p else "Channel": c.name,
            f"{p}ChannelStateDesc": state,
            f"{p}CallerIDNum": c.num,
            f"{p}CallerIDName": "<unknown>",
            f"{p}ConnectedLineNum": "<unknown>",
            f"{p}ConnectedLineName": "<unknown>",
            f"{p}Context": "seats",
            f"{p}Exten": "s",
            f"{p}Priority": "1",
            f"{p}Uniqueid": c.uid,
            f"{p}Linkedid": c.lid,
        }

    def emit(self, name: str, *parts: dict[str, str]) -> None:
        headers = {"Event": name, "Privilege": "call,all"}
        for part in parts:
            headers.update(part)
        self.out.append(Message(headers))

    # -- channels ------------------------------------------------------------------------
    def new(self, requestor: Chan | None, tech: str) -> Chan:
        self.serial += 1
        uid = f"1797000000.{self.serial}"
        chan = Chan(f"{tech}-{self.serial:08x}", uid, requestor.lid if requestor else uid, "1000")
        self.up.append(chan)
        self.emit("Newchannel", self.snap(chan, state="Down" if requestor else "Ring"))
        return chan

    def dial(self, caller: Chan) -> None:
        dest = self.new(caller, "PJSIP/seat")
        caller.dialling = dest
        self.emit("DialBegin", self.snap(caller), self.snap(dest, "Dest", "Down"))

    def dial_end(self, caller: Chan, dest: Chan, status: str) -> None:
        caller.dialling = None
        self.emit("DialEnd", self.snap(caller), self.snap(dest, "Dest"), {"DialStatus": status})

    def join(self, chans: list[Chan]) -> None:
        bid = f"bridge-{self.serial}-{len(self.bridges)}"
        self.bridges[bid] = []
        for chan in chans:
            self.leave(chan)
            self.bridges[bid].append(chan)
            chan.bridge = bid
            # ast_bridge_channel_update_linkedids: the oldest Linkedid is copied onto all.
            oldest = min((c.lid for c in self.bridges[bid]), key=lambda x: int(x.split(".")[1]))
            for member in self.bridges[bid]:
                member.lid = oldest
            self.emit("BridgeEnter", {"BridgeUniqueid": bid}, self.snap(chan))

    def leave(self, chan: Chan) -> None:
        if chan.bridge is None:
            return
        self.bridges[chan.bridge].remove(chan)
        self.emit("BridgeLeave", {"BridgeUniqueid": chan.bridge}, self.snap(chan))
        chan.bridge = None

    def hangup(self, chan: Chan, cause: int = 16) -> None:
        if chan not in self.up:
            return
        for other in self.up:
            if other.dialling is chan:
                self.dial_end(other, chan, "NOANSWER")
        if chan.dialling is not None:
            dest = chan.dialling
            self.dial_end(chan, dest, "CANCEL")
            self.up.remove(chan)
            self.leave(chan)
            self.emit("Hangup", self.snap(chan), {"Cause": str(cause)})
            self.hangup(dest)
            return
        self.up.remove(chan)
        self.leave(chan)
        self.emit("Hangup", self.snap(chan), {"Cause": str(cause)})

    def masquerade(self, moved: Chan, into: Chan) -> Chan:
        """``moved`` takes ``into``'s place (its dial); ``into``'s identity hangs up."""
        self.leave(moved)
        moved.dialling, into.dialling = into.dialling, None
        self.hangup(into, 26)
        return moved

    # -- steps ---------------------------------------------------------------------------
    def pick(self, items: list[Chan], i: int) -> Chan | None:
        return items[i % len(items)] if items else None

    def step(self, op: int, a: int, b: int) -> None:
        ringing = [c.dialling for c in self.up if c.dialling is not None]
        idle = [c for c in self.up if not c.dialling and not c.bridge and c not in ringing]
        dialling = [c for c in self.up if c.dialling is not None]
        bridged = [c for c in self.up if c.bridge is not None]
        if op == 0:
            root = self.new(None, "PJSIP/pstn")
            if b % 2:
                self.emit("NewCallerid", self.snap(root, state="Ring") | {"CallerIDNum": "1390"})
        elif op == 1 and (caller := self.pick(idle, a)):
            self.dial(caller)
        elif op == 2 and (caller := self.pick(dialling, a)) and caller.dialling:
            dest = caller.dialling
            self.dial_end(caller, dest, "ANSWER")
            self.join([dest, caller] if b % 2 else [caller, dest])
        elif op == 3 and (caller := self.pick(dialling, a)) and caller.dialling:
            dest = caller.dialling
            self.dial_end(caller, dest, "NOANSWER")
            self.hangup(dest)
        elif op == 4 and (caller := self.pick(dialling, a)) and caller.dialling:
            self.pickup(caller, caller.dialling, b)
        elif op == 5 and (chan := self.pick(self.up, a)):
            self.hangup(chan)
        elif op == 6:
            self.refer(a, b)
        elif op == 7 and (seat := self.pick(bridged, a)):
            self.blind(seat)
        elif op == 8 and (chan := self.pick(self.up, a)):
            chan.num = str(1000 + b)
            self.emit("NewCallerid", self.snap(chan))

    def pickup(self, caller: Chan, target: Chan, b: int) -> None:
        picker = self.new(None, "PJSIP/picker")
        pickup = self.snap(picker) | self.snap(target, "Target", "Ringing")
        # ast_do_pickup: the picker takes the ringing channel's place; its identity stays.
        caller.dialling = picker
        target_gone = Chan(target.name, target.uid, target.lid, target.num)
        self.up.remove(target)
        if b % 2:
            self.emit("Pickup", pickup)
            self.up.append(target_gone)
            self.hangup(target_gone, 26)
            self.dial_end(caller, picker, "ANSWER")
        else:  # the dialler's thread may report the answer first
            self.dial_end(caller, picker, "ANSWER")
            self.emit("Pickup", pickup)
            self.up.append(target_gone)
            self.hangup(target_gone, 26)
        self.join([picker, caller])

    def refer(self, a: int, b: int) -> None:
        """A REFER from a phone with a bridged call and a second call still dialling."""
        seats = [c for c in self.up if c.bridge and len(self.bridges[c.bridge]) == 2]
        consults = [c for c in self.up if c.dialling is not None and c.bridge is None]
        seat, consult = self.pick(seats, a), self.pick(consults, b)
        if seat is None or consult is None or consult is seat or seat.bridge is None:
            return
        [transferee] = [c for c in self.bridges[seat.bridge] if c is not seat]
        with_ids = b % 3 == 0  # a variant where Asterisk could name the transferee
        self.emit(
            "AttendedTransfer",
            {"Result": "Success"},
            self.snap(seat, "OrigTransferer"),
            {"OrigBridgeUniqueid": seat.bridge},
            self.snap(consult, "SecondTransferer", "Ring"),
            self.snap(transferee, "Transferee") if with_ids else {},
            {"IsExternal": "Yes", "DestType": "App", "DestApp": "Dial"},
        )
        self.leave(seat)
        self.masquerade(transferee, consult)
        self.hangup(seat)

    def blind(self, seat: Chan) -> None:
        assert seat.bridge is not None
        others = [c for c in self.bridges[seat.bridge] if c is not seat]
        if len(others) != 1:
            return
        [transferee] = others
        self.emit(
            "BlindTransfer",
            {"Result": "Success"},
            self.snap(seat, "Transferer"),
            self.snap(transferee, "Transferee"),
            {"IsExternal": "No", "Context": "transfer", "Extension": "8001"},
        )
        self.leave(transferee)
        self.hangup(seat)
        self.dial(transferee)


steps = st.lists(st.tuples(st.integers(0, 8), st.integers(0, 50), st.integers(0, 50)), max_size=40)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(steps=steps, order=st.randoms(use_true_random=False), drop=st.integers(0, 400))
def test_generated_sequences_end_every_call_once(
    steps: list[tuple[int, int, int]], order: object, drop: int
) -> None:
    model = Model()
    model.step(0, 0, 0)
    for op, a, b in steps:
        model.step(op, a, b)
    rest = list(model.up)
    order.shuffle(rest)  # type: ignore[attr-defined]
    for chan in rest:
        model.hangup(chan)
    assert not model.up and all_hung_up(model.out)
    check(model.out, True)
    check(model.out[drop % (len(model.out) + 1) :], True)
