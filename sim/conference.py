"""Conferences, blind transfers and ChanSpy in the simulated PBX (三方通话, 转接, 监听).

Shapes are those of tests/fixtures/ami three_way, three_way_dept_noanswer, blind_transfer and
chanspy: a Redirect with ExtraChannel answers "Dual Redirect successful" and moves caller and
seat into ConfBridge(room...) ([conference] _room.); ConfbridgeStart/Join/Leave/End carry
BridgeNumChannels counting ConfBridge's hidden announcer (+1); a department is an Originate
into the room; BlindTransfer answers "Transfer succeeded" and reports Transferer*/Transferee*
fields with no Channel header; ChanSpyStart/Stop carry Spyer*/Spyee* fields only.

Atxfer (attended_transfer) queues the feature code as DTMF, consults the target in a bridge
of its own, and completes on the seat's hang-up (BridgeMerge, AttendedTransfer).

A channel that moves (redirected out of its bridge) is marked ``MOVING`` (sim.kernel) so that
the flow it leaves does not hang it up; the flow it enters owns it from then on.

Rooms follow asterisk_conf/ ([conference], confbridge.conf) and app_confbridge's state machine
(conf_state_multi_marked.c): caller and seat join with ``hotline_user`` (marked); a department
(``HL_CONF_ROLE=department`` on its Originate) with ``hotline_dept`` (end_marked), and only if
a marked user is in the room (``CONFBRIDGE_INFO(marked,...)``), else it hangs up. When the last
marked user leaves, every end_marked user is kicked (ConfbridgeLeave, then [conference] hangs
it up); the room ends with its last member.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pbx.message import Message
from sim import outbound
from sim.engine import SimPbx
from sim.kernel import MOVING, Channel

ROLE_VARIABLE = "HL_CONF_ROLE"  # [conference]: "department" joins with hotline_dept
USER_PROFILE, DEPT_PROFILE = "hotline_user", "hotline_dept"


@dataclass
class Room:
    name: str
    bridge: str
    members: list[Channel] = field(default_factory=list)
    caller: Channel | None = None
    marked: set[str] = field(default_factory=set)  # channel names of marked members
    end_marked: dict[str, asyncio.Event] = field(default_factory=dict)  # name -> its kick
    caller_left: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Conferences:
    rooms: dict[str, Room] = field(default_factory=dict)
    caller_stays_s: float = 3.0  # a caller in a room hangs up after this long
    # A seat's phone in a room hangs up after this long (None: only by an AMI Hangup).
    seat_stays_s: float | None = None
    dept_ring_s: float = 30.0  # Dial(...,30) in [transfer]
    # What the person at a seat does (not Asterisk): hangs up this long after the caller left
    # the room (the department, end_marked, is then kicked and the room ends). None: stays
    # until an AMI Hangup, as the captures' seats (Local channels running Wait()) did.
    seat_leaves_after_caller_s: float | None = 0.0
    history: list[tuple[str, str]] = field(default_factory=list)  # (event, detail) for tests


def of(pbx: SimPbx) -> Conferences:
    """The conference side of a simulated PBX (created on first use)."""
    return pbx.feature(Conferences, Conferences)


def _bridge_fields(room: Room, count: int) -> list[tuple[str, str]]:
    return [
        ("Conference", room.name),
        ("BridgeUniqueid", room.bridge),
        ("BridgeType", "base"),
        ("BridgeTechnology", "softmix"),
        ("BridgeCreator", "ConfBridge"),
        ("BridgeName", room.name),
        ("BridgeNumChannels", str(count + 1)),  # the hidden announcer channel
        ("BridgeVideoSourceMode", "none"),
    ]


def _room(pbx: SimPbx, name: str) -> Room:
    state = of(pbx)
    room = state.rooms.get(name)
    if room is None:
        room = state.rooms[name] = Room(name, f"sim-conf-{name}")
        pbx.emit("ConfbridgeStart", "call,all", None, *_bridge_fields(room, 0))
        state.history.append(("start", name))
    return room


async def _in_room(
    pbx: SimPbx,
    chan: Channel,
    name: str,
    until: asyncio.Event | None,
    stay_s: float | None,
    *,
    marked: bool,
) -> None:
    """ConfBridge(name) for one channel, until it is hung up, ``until`` is set and ``stay_s``
    more have passed, or (end_marked) it is kicked."""
    room = _room(pbx, name)
    # Where [conference] runs ConfBridge for each profile; what CoreShowChannels reports, so
    # a resync sees the channel in its room.
    profile = USER_PROFILE if marked else DEPT_PROFILE
    chan.context, chan.exten, chan.priority = "conference", name, 3 if marked else 5
    chan.app, chan.app_data = "ConfBridge", f"{name},hotline_bridge,{profile}"
    room.members.append(chan)
    kicked = asyncio.Event()
    if marked:
        room.marked.add(chan.name)
    else:
        room.end_marked[chan.name] = kicked
    pbx.emit(
        "ConfbridgeJoin",
        "call,all",
        None,
        *_bridge_fields(room, len(room.members)),
        *pbx.snapshot(chan),
        ("Admin", "No"),
        ("Muted", "No"),
    )
    of(pbx).history.append(("join", chan.name))
    try:
        await _stay(kicked, until, stay_s)
    finally:
        pbx.emit(
            "ConfbridgeLeave",
            "call,all",
            None,
            *_bridge_fields(room, len(room.members)),
            *pbx.snapshot(chan),
            ("Admin", "No"),
        )
        of(pbx).history.append(("leave", chan.name))
        room.members.remove(chan)
        room.end_marked.pop(chan.name, None)
        if chan is room.caller:
            room.caller_left.set()
        if marked:
            room.marked.discard(chan.name)
            if not room.marked:  # the last marked user left: end_marked users are kicked
                for kick in room.end_marked.values():
                    kick.set()
        if not room.members:
            of(pbx).rooms.pop(name, None)
            pbx.emit("ConfbridgeEnd", "call,all", None, *_bridge_fields(room, 0))
            of(pbx).history.append(("end", name))


async def _stay(kicked: asyncio.Event, until: asyncio.Event | None, stay_s: float | None) -> None:
    async def own_time() -> None:
        if until is not None:
            await until.wait()
        if stay_s is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(stay_s)

    timer = asyncio.ensure_future(own_time())
    kick = asyncio.ensure_future(kicked.wait())
    try:
        await asyncio.wait((timer, kick), return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        kick.cancel()
        await asyncio.gather(timer, kick, return_exceptions=True)


def _take_over(pbx: SimPbx, chan: Channel) -> None:
    """Move ``chan`` out of the flow that runs it (its bridge ends there, it stays up)."""
    chan.variables[MOVING] = "1"
    old = chan.task
    if old is not None and old is not asyncio.current_task():
        old.cancel()


async def _after(old: asyncio.Task[None] | None) -> None:
    if old is not None:
        await asyncio.gather(old, return_exceptions=True)


def redirect(pbx: SimPbx, msg: Message) -> str:
    """Redirect (with ExtraChannel) into [conference]; Asterisk's answer text, or ValueError."""
    name = msg.get("Channel") or ""
    context, exten = msg.get("Context") or "", msg.get("Exten") or ""
    if context != "conference" or not exten.startswith("room"):
        raise ValueError(f"the simulator does not run context {context!r} exten {exten!r}")
    chans = [pbx.find(name)]
    extra = msg.get("ExtraChannel")
    if extra is not None:
        chans.append(pbx.find(extra))
    for wanted, chan in zip([name, extra], chans, strict=False):
        if chan is None:
            raise LookupError(f"Channel does not exist: {wanted}")
    state = outbound.of(pbx)
    olds = [c.task for c in chans if c is not None and c.task is not None]
    for chan in chans:
        assert chan is not None
        _take_over(pbx, chan)
        is_caller = chan.uniqueid == chan.linkedid
        chan.task = state.start(_moved_into_room(pbx, chan, exten, olds, is_caller))
    return "Dual Redirect successful" if extra is not None else "Redirect successful"


async def _moved_into_room(
    pbx: SimPbx, chan: Channel, room: str, olds: list[asyncio.Task[None]], is_caller: bool
) -> None:
    await asyncio.gather(*olds, return_exceptions=True)  # the bridge they leave is gone
    chan.variables.pop(MOVING, None)
    state = of(pbx)
    until: asyncio.Event | None = None
    stay: float | None = state.caller_stays_s
    if is_caller:
        _room(pbx, room).caller = chan
    elif state.seat_stays_s is not None:  # the seat's phone hangs up on its own, mid-room
        stay = state.seat_stays_s
    else:  # the seat: its person hangs up after the caller has gone (see Conferences)
        until, stay = _room(pbx, room).caller_left, state.seat_leaves_after_caller_s
    try:
        await _in_room(pbx, chan, room, until, stay, marked=True)
    except asyncio.CancelledError:
        pass
    finally:
        pbx.hangup_channel(chan, 16, "Normal Clearing")
        if is_caller:
            pbx.finished.append({"call_id": chan.linkedid, "outcome": "conference"})


async def _conference_flow(pbx: SimPbx, chan: Channel, variables: dict[str, str]) -> None:
    """[conference] _room.: an originated leg (the department) joins the room."""
    room = of(pbx).rooms.get(chan.exten)
    department = variables.get(ROLE_VARIABLE) == "department"
    if department and (room is None or not room.marked):
        return  # CONFBRIDGE_INFO(marked,...) = 0: caller and seat have gone; it hangs up
    phone = outbound.of(pbx).phones.get(_who(chan))
    stay = phone.talk_s if phone is not None else None
    await _in_room(pbx, chan, chan.exten, None, stay, marked=not department)


def _who(chan: Channel) -> str:
    """The phone behind an originated channel: the number its Originate rang."""
    return chan.variables.get(outbound.DIALLED, "")


outbound.FLOWS["conference"] = _conference_flow


# --- blind transfer -------------------------------------------------------------------
def blind_transfer(pbx: SimPbx, msg: Message) -> None:
    """BlindTransfer of a seat's channel: its peer (the caller) runs [transfer] <exten>."""
    seat = pbx.find(msg.get("Channel") or "")
    if seat is None:
        raise LookupError("No such channel")
    context, exten = msg.get("Context") or "", msg.get("Exten") or ""
    if context != "transfer" or not exten.isdigit():
        raise ValueError("Transfer failed")
    caller = next((c for c in pbx.live() if c.uniqueid == seat.linkedid and c is not seat), None)
    if caller is None:
        raise ValueError("Transfer failed")
    old = caller.task
    caller.variables["_transfer"] = "1"  # app_queue's AgentComplete says Reason=transfer
    caller.variables[MOVING] = "1"  # its flow is ended by the transfer's task (below)
    caller.task = outbound.of(pbx).start(_transferred(pbx, caller, seat, exten, old))


async def _transferred(
    pbx: SimPbx, caller: Channel, seat: Channel, number: str, old: asyncio.Task[None] | None
) -> None:
    # After the response: BlindTransfer, then the seat's leg goes (the old flow ends the
    # bridge and hangs it up), then the caller runs [transfer] (blind_transfer's order).
    caller.context, caller.exten, caller.priority = "transfer", number, 1
    fields = {
        "City": caller.variables.get("CITY", pbx.city),
        "CallId": caller.variables.get("HL_CALLID", caller.uniqueid),
        "Number": number,
    }
    pbx.emit(
        "BlindTransfer",
        "call,all",
        None,
        ("Result", "Success"),
        *pbx.snapshot(seat, "Transferer"),
        *pbx.snapshot(caller, "Transferee"),
        ("BridgeUniqueid", f"sim-bridge-{caller.uniqueid}"),
        ("BridgeType", "basic"),
        ("BridgeTechnology", "simple_bridge"),
        ("BridgeCreator", "<unknown>"),
        ("BridgeName", "<unknown>"),
        ("BridgeNumChannels", "2"),
        ("BridgeVideoSourceMode", ""),
        ("IsExternal", "Yes"),
        ("Context", "transfer"),
        ("Extension", number),
    )
    if old is not None and old is not asyncio.current_task():
        old.cancel()
    await _after(old)
    caller.variables.pop(MOVING, None)
    caller.variables["DIALSTATUS"] = ""  # [transfer] clears what the Dial of the seat left
    pbx.user_event(caller, "DeptCall", **fields)
    status = "CANCEL"
    try:
        status, _ = await outbound.dial_outside(pbx, caller, number, of(pbx).dept_ring_s)
    except asyncio.CancelledError:
        # The caller hung up during the Dial: [transfer]'s h extension reports what Dial left.
        status = caller.variables.get("DIALSTATUS") or "CANCEL"
    finally:
        pbx.user_event(caller, "TransferResult", **fields, DialStatus=status)
        pbx.hangup_channel(caller, 16, "Normal Clearing")
        pbx.finished.append({"call_id": caller.linkedid, "outcome": f"transfer_{status.lower()}"})


# --- ChanSpy --------------------------------------------------------------------------
async def _supervisor_flow(pbx: SimPbx, chan: Channel, variables: dict[str, str]) -> None:
    """[supervisor] listen|whisper|barge: ChanSpy(${SPY_TARGET},q...) on the seat's channel."""
    await _spy(pbx, chan, variables.get("SPY_TARGET", ""))


async def _chanspy_app(pbx: SimPbx, chan: Channel, data: str) -> None:
    """Originate Application=ChanSpy Data=<channel or prefix>,<options> (chanspy capture)."""
    await _spy(pbx, chan, data.partition(",")[0])


async def _spy(pbx: SimPbx, chan: Channel, target: str) -> None:
    spyee = pbx.find(target) if target else None
    if spyee is None:
        spyee = next((c for c in pbx.live() if target and c.name.startswith(f"{target}-")), None)
    behaviour = outbound.of(pbx).phones.get(_who(chan))
    stay = behaviour.talk_s if behaviour is not None else 1.0
    if spyee is None:
        await asyncio.sleep(stay)  # ChanSpy waits for a channel to appear; nobody comes
        return
    pair = [*pbx.snapshot(chan, "Spyer"), *pbx.snapshot(spyee, "Spyee")]
    pbx.emit("ChanSpyStart", "call,all", None, *pair)
    of(pbx).history.append(("spy", f"{chan.exten}:{spyee.name}"))
    try:
        await asyncio.sleep(stay)
    finally:
        pbx.emit("ChanSpyStop", "call,all", None, *pair)


outbound.APPLICATIONS["ChanSpy"] = _chanspy_app
outbound.FLOWS["supervisor"] = _supervisor_flow


# --- attended transfer ----------------------------------------------------------------
ATXFER_CODE = "*2"  # asterisk_conf/features.conf: atxfer => *2


def _bridge_snapshot(prefix: str, bridge: str, count: int) -> list[tuple[str, str]]:
    return [
        (f"{prefix}BridgeUniqueid", bridge),
        (f"{prefix}BridgeType", "basic"),
        (f"{prefix}BridgeTechnology", "simple_bridge"),
        (f"{prefix}BridgeCreator", "<unknown>"),
        (f"{prefix}BridgeName", "<unknown>"),
        (f"{prefix}BridgeNumChannels", str(count)),
        (f"{prefix}BridgeVideoSourceMode", "none"),
    ]


def atxfer(pbx: SimPbx, msg: Message) -> None:
    """Atxfer of a seat's channel: the feature code and the number are queued as DTMF on it;
    the seat consults the target (``Local/<exten>@<context>``) while the caller is on hold,
    and completes the transfer by hanging up (attended_transfer)."""
    seat = pbx.find(msg.get("Channel") or "")
    if seat is None:
        raise LookupError("No such channel")
    context, exten = msg.get("Context") or "", msg.get("Exten") or ""
    caller = next((c for c in pbx.live() if c.uniqueid == seat.linkedid and c is not seat), None)
    if caller is None or not caller.bridge:
        raise ValueError("Atxfer failed")  # the seat is not talking to a caller
    seat.task = outbound.of(pbx).start(_consult(pbx, seat, caller, context, exten))


async def _consult(pbx: SimPbx, seat: Channel, caller: Channel, context: str, exten: str) -> None:
    scale = pbx.time_scale
    original = caller.bridge
    for n, digit in enumerate(ATXFER_CODE + exten):
        dtmf = (("Digit", digit), ("DurationMs", "100"), ("Direction", "Received"))
        pbx.emit("DTMFEnd", "dtmf,all", seat, *dtmf)
        if n == len(ATXFER_CODE) - 1:
            pbx.emit("Hold", "call,all", seat, ("MusicClass", "default"))
            pbx.emit("MusicOnHoldStart", "call,all", caller, ("Class", "default"))
        await asyncio.sleep(0.08 * scale)
    unknown = "<unknown>"
    target = pbx.new_channel(
        f"Local/{exten}@{context}", unknown, unknown, context, exten, seat.linkedid, ";1"
    )
    consult = f"sim-consult-{target.uniqueid}"
    pbx.emit("BridgeCreate", "call,all", None, *_bridge_snapshot("", consult, 0))
    pbx.emit("BridgeEnter", "call,all", target, *_bridge_snapshot("", consult, 1))
    pbx.emit("BridgeLeave", "call,all", seat, *_bridge_snapshot("", original, 1))
    pbx.emit("BridgeEnter", "call,all", seat, *_bridge_snapshot("", consult, 2))
    seat.bridge = target.bridge = consult
    phones = outbound.of(pbx)
    behaviour = phones.phones.get(exten, phones.other_phones)
    try:
        pbx.set_state(target, 5)
        if behaviour.answer_after_s is not None:
            await asyncio.sleep(behaviour.answer_after_s)
            pbx.set_state(target, 6)
            # The target's answer: a DialEnd with no DialBegin and no Channel (captured).
            pbx.emit(
                "DialEnd",
                "call,all",
                None,
                *pbx.snapshot(target, "Dest"),
                ("DialStatus", "ANSWER"),
            )
        await asyncio.Event().wait()  # the consultation lasts until the seat hangs up
    except asyncio.CancelledError:
        if caller.gone:
            pbx.hangup_channel(target, 16, "Normal Clearing")
            pbx.hangup_channel(seat, 16, "Normal Clearing")
            return
        _complete(pbx, seat, caller, target, original, consult, behaviour.talk_s)


def _complete(
    pbx: SimPbx,
    seat: Channel,
    caller: Channel,
    target: Channel,
    original: str,
    consult: str,
    talk_s: float,
) -> None:
    """The seat hung up: the consultation bridge merges into the caller's (BridgeMerge),
    AttendedTransfer, the seat's leg goes, caller and target talk on."""
    pbx.emit("BridgeLeave", "call,all", seat, *_bridge_snapshot("", consult, 1))
    merge = [*_bridge_snapshot("To", original, 1), *_bridge_snapshot("From", consult, 2)]
    pbx.emit("BridgeMerge", "call,all", None, *merge)
    pbx.emit("BridgeLeave", "call,all", target, *_bridge_snapshot("", consult, 1))
    pbx.emit("BridgeEnter", "call,all", target, *_bridge_snapshot("", original, 2))
    target.bridge = original
    pbx.emit("MusicOnHoldStop", "call,all", caller)
    pbx.emit(
        "AttendedTransfer",
        "call,all",
        None,
        ("Result", "Success"),
        *pbx.snapshot(seat, "OrigTransferer"),
        *_bridge_snapshot("Orig", original, 2),
        *pbx.snapshot(seat, "SecondTransferer"),
        *_bridge_snapshot("Second", consult, 1),
        *pbx.snapshot(caller, "Transferee"),
        *pbx.snapshot(target, "TransferTarget"),
        ("IsExternal", "No"),
        ("DestType", "Bridge"),
        ("DestBridgeUniqueid", original),
    )
    caller.variables["_transfer"] = "1"  # app_queue's AgentComplete says Reason=transfer
    old = caller.task
    caller.variables[MOVING] = "1"
    pbx.hangup_channel(seat, 16, "Normal Clearing")
    caller.task = outbound.of(pbx).start(_transferred_talk(pbx, caller, target, old, talk_s))


async def _transferred_talk(
    pbx: SimPbx, caller: Channel, target: Channel, old: asyncio.Task[None] | None, talk_s: float
) -> None:
    if old is not None and old is not asyncio.current_task():
        old.cancel()
    await _after(old)  # the caller's old flow ends (its queue's AgentComplete)
    caller.variables.pop(MOVING, None)
    caller.bridge = target.bridge
    try:
        await asyncio.sleep(talk_s)  # the target hangs up after talking
    except asyncio.CancelledError:
        pass
    finally:
        pbx.hangup_channel(target, 16, "Normal Clearing")
        pbx.hangup_channel(caller, 16, "Normal Clearing")
        pbx.finished.append({"call_id": caller.linkedid, "outcome": "transfer_answer"})
