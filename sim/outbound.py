"""Calls the simulated PBX places itself: Originate, the [callback] context, outside phones.

An Originate rings its channel (a seat's softphone ``PJSIP/<seat>``, a supervisor's phone, or
an outside number ``PJSIP/<number>@pstn``) as its behaviour says, reports OriginateResponse
as Asterisk 22 does (``Success`` Reason 4 with the new Uniqueid; ``Failure`` Reason 3 no
answer / 5 busy, and Reason 0 at once for a seat whose phone is not registered, with the bare
dial string as Channel and ``Uniqueid: <unknown>``, see
tests/fixtures/ami/originate_noanswer and three_way_dept_noanswer), then runs the dialplan
location it was sent to. [callback] follows asterisk_conf/extensions.conf: the AstDB guard on
the idempotency key, CallbackDial, Dial of the citizen through the PSTN trunk, CallbackResult,
the result kept in AstDB. [conference] and [supervisor] are run by ``sim.conference``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from pbx.message import Message
from sim.engine import SeatBehaviour, SimPbx
from sim.kernel import Channel

ASTDB_FAMILY = "hlcb"  # [callback] keeps each attempt's progress here, keyed by HL_IDEMPOTENCY
IDEMPOTENCY_VARIABLE = "HL_IDEMPOTENCY"

DIALLED = "_dialled"  # the simulator's own note on an originated channel: the number it rang
REASON_ANSWERED, REASON_NO_ANSWER, REASON_BUSY, REASON_FAILED = 4, 3, 5, 0


@dataclass(frozen=True)
class PhoneBehaviour:
    """An outside phone (a citizen, a department) or a supervisor's softphone."""

    answer_after_s: float | None = 0.2  # None: rings for ever
    busy: bool = False
    talk_s: float = 1.0  # hangs up after talking this long


@dataclass
class Outbound:
    """Per-PBX state of what it dials: outside phones, AstDB, and what rang (for tests)."""

    pbx: SimPbx
    phones: dict[str, PhoneBehaviour] = field(default_factory=dict)
    # Numbers not in ``phones``: by default nobody picks up (tests name every phone they use);
    # the demo lets its citizens answer their callbacks.
    other_phones: PhoneBehaviour = field(default_factory=lambda: PhoneBehaviour(None))
    dialled: list[str] = field(default_factory=list)  # outside numbers that rang, in order
    originates: list[str] = field(default_factory=list)  # ActionIDs of Originates accepted
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def astdb(self) -> dict[str, str]:
        """The PBX's AstDB ("family/key" -> value), which its dialplan shares."""
        return self.pbx.astdb

    def start(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


def of(pbx: SimPbx) -> Outbound:
    """The outbound side of a simulated PBX (created on first use)."""
    return pbx.feature(Outbound, lambda: Outbound(pbx))


class OriginateRefused(Exception):
    """A synchronous refusal; the text is Asterisk's (``Originate failed``).

    ``after`` emits what Asterisk sends after its refusal (a Local channel pair that was
    created and found nothing to run: its Newchannel and Hangup, cause 0; originate_noanswer).
    """

    def __init__(self, text: str, after: Callable[[], None] | None = None) -> None:
        super().__init__(text)
        self.after = after


# Where an Originate may be sent: context -> the flow that runs the answered channel.
Flow = Callable[[SimPbx, Channel, dict[str, str]], Awaitable[None]]
FLOWS: dict[str, Flow] = {}
# Applications an Originate may run (Application/Data): name -> flow given Data.
AppFlow = Callable[[SimPbx, Channel, str], Awaitable[None]]
APPLICATIONS: dict[str, AppFlow] = {}


def _target(channel: str) -> tuple[str, str, str, str] | None:
    """(tech name prefix of the new channel, who answers, trunk, name suffix) for a dial
    string: ``PJSIP/<seat>``, ``PJSIP/<number>@<trunk>``, or ``Local/<who>@<context>`` as the
    captures' rig dialled its phones (the ``;1`` half is the channel the client sees)."""
    tech, sep, rest = channel.partition("/")
    number, _, where = rest.partition("@")
    if not sep or not number:
        return None
    if tech == "PJSIP":
        return (f"PJSIP/{where}" if where else f"PJSIP/{number}"), number, where, ""
    if tech == "Local" and where:
        return f"Local/{number}@{where}", number, "", ";1"
    return None


def _known(pbx: SimPbx, who: str) -> bool:
    return who in pbx.seats or who in of(pbx).phones


def _behaviour(pbx: SimPbx, who: str, trunk: str) -> PhoneBehaviour:
    if not trunk:
        seat = pbx.seats.get(who)
        if isinstance(seat, SeatBehaviour):
            return PhoneBehaviour(seat.answer_after_s, False, seat.talk_s)
    state = of(pbx)
    return state.phones.get(who, state.other_phones)


def _variables(msg: Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in msg.getall("Variable"):
        for pair in item.split(","):
            name, sep, value = pair.partition("=")
            if sep:
                out[name.strip()] = value
    return out


def originate(pbx: SimPbx, msg: Message, action_id: str | None) -> None:
    """Accept an Originate (async): the call runs in a task; OriginateResponse follows."""
    channel = msg.get("Channel") or ""
    context = msg.get("Context")
    application = msg.get("Application")
    target = _target(channel)
    if target is None or (context is None and application is None):
        raise OriginateRefused("Originate failed")
    if target[3] and not _known(pbx, target[1]):
        # A Local channel into a context with nothing there: Asterisk creates the pair,
        # the ;2 half finds no extension, both hang up (cause 0) after the refusal.
        def after() -> None:
            where = target[0].split("@", 1)[1]
            unknown = "<unknown>"
            chan = pbx.new_channel(target[0], unknown, unknown, where, target[1], suffix=";1")
            pbx.hangup_channel(chan, 0, "Unknown")

        raise OriginateRefused("Originate failed", after)
    if context is not None and context not in FLOWS:
        raise OriginateRefused("Originate failed")
    if context is None and application not in APPLICATIONS:
        raise OriginateRefused("Originate failed")
    state = of(pbx)
    state.originates.append(action_id or "")
    state.start(_run(pbx, msg, action_id))


async def _run(pbx: SimPbx, msg: Message, action_id: str | None) -> None:
    dial = msg.get("Channel") or ""
    tech, who, trunk, suffix = _target(dial) or ("", "", "", "")
    context = msg.get("Context") or ""
    application = msg.get("Application") or ""
    exten = msg.get("Exten") or ("" if application else "s")
    timeout_s = int(msg.get("Timeout") or "30000") / 1000 * pbx.time_scale
    caller_num, caller_name = _caller_id(msg.get("CallerID") or "")
    variables = _variables(msg)
    behaviour = _behaviour(pbx, who, trunk)
    where = context or (tech.split("@", 1)[1] if suffix else "")
    if not trunk and who in pbx.unregistered:
        # PJSIP has no contact for the endpoint: no channel is created, and the answer comes
        # at once (seen on Asterisk 22: Failure, Reason 0, Uniqueid <unknown>).
        _respond_unreachable(pbx, msg, action_id, dial, caller_num, caller_name)
        return
    chan = pbx.new_channel(tech, caller_num, caller_name, where, exten or who, suffix=suffix)
    chan.variables.update(variables)
    chan.variables[DIALLED] = who  # whose phone this is (PJSIP/pstn-... does not say)
    if trunk:
        of(pbx).dialled.append(who)
    head = [("ActionID", action_id)] if action_id else []

    where_to = (
        [("Context", context), ("Exten", exten)]
        if context
        else [("Application", application), ("Data", msg.get("Data") or "")]
    )

    def respond(response: str, reason: int, answered: Channel | None) -> None:
        fields = [
            *head,
            ("Response", response),
            ("Channel", answered.name if answered else dial),
            *where_to,
            ("Reason", str(reason)),
            ("Uniqueid", answered.uniqueid if answered else "<unknown>"),
            ("CallerIDNum", caller_num or "<unknown>"),
            ("CallerIDName", caller_name or "<unknown>"),
        ]
        pbx.emit("OriginateResponse", "call,all", None, *fields)

    try:
        pbx.set_state(chan, 5)
        if behaviour.busy:
            pbx.hangup_channel(chan, 17, "User busy")
            respond("Failure", REASON_BUSY, None)
            return
        answer = behaviour.answer_after_s
        if answer is None or answer >= timeout_s:
            await asyncio.sleep(timeout_s)
            respond("Failure", REASON_NO_ANSWER, None)  # before the Hangups, as recorded
            pbx.hangup_channel(chan, 19, "No answer")
            return
        await asyncio.sleep(answer)
        pbx.set_state(chan, 6)
        respond("Success", REASON_ANSWERED, chan)
        chan.task = asyncio.current_task()
        if context:
            await FLOWS[context](pbx, chan, variables)
        else:
            chan.app, chan.app_data = application, msg.get("Data") or ""
            await APPLICATIONS[application](pbx, chan, chan.app_data)
    except asyncio.CancelledError:
        pass  # hung up over AMI (or the simulator stops)
    finally:
        pbx.hangup_channel(chan, 16, "Normal Clearing")


def _respond_unreachable(
    pbx: SimPbx,
    msg: Message,
    action_id: str | None,
    dial: str,
    caller_num: str,
    caller_name: str,
) -> None:
    context = msg.get("Context")
    where_to = (
        [("Context", context), ("Exten", msg.get("Exten") or "s")]
        if context
        else [("Application", msg.get("Application") or ""), ("Data", msg.get("Data") or "")]
    )
    pbx.emit(
        "OriginateResponse",
        "call,all",
        None,
        *([("ActionID", action_id)] if action_id else []),
        ("Response", "Failure"),
        ("Channel", dial),
        *where_to,
        ("Reason", str(REASON_FAILED)),
        ("Uniqueid", "<unknown>"),
        ("CallerIDNum", caller_num or "<unknown>"),
        ("CallerIDName", caller_name or "<unknown>"),
    )


def _caller_id(text: str) -> tuple[str, str]:
    """``"name" <num>`` -> (num, name)."""
    text = text.strip()
    if "<" in text and text.endswith(">"):
        name, _, num = text[:-1].partition("<")
        return num.strip(), name.strip().strip('"')
    return text, ""


async def dial_outside(
    pbx: SimPbx,
    chan: Channel,
    number: str,
    ring_s: float,
    *,
    hold: bool = True,
    record: str = "",
) -> tuple[str, Channel | None]:
    """Dial(PJSIP/<number>@pstn) from ``chan``; returns DIALSTATUS and the answered leg.

    With ``hold`` the bridge and the talk are run here until one side hangs up; without it
    the answered leg is returned up (the caller joins it to something else). ``record`` is
    a MixMonitor base (HL_REC) running on ``chan``: its files are written once the talk ends
    (MixMonitor writes only while audio flows)."""
    behaviour = of(pbx).phones.get(number, of(pbx).other_phones)
    of(pbx).dialled.append(number)
    chan.variables["DIALSTATUS"] = ""  # Dial clears it first (app_dial.c)
    leg = pbx.new_channel("PJSIP/pstn", number, "", "from-pstn", number, linkedid=chan.linkedid)
    dest = pbx.snapshot(leg, "Dest")
    pbx.emit("DialBegin", "call,all", chan, *dest, ("DialString", f"{number}@pstn"))
    try:
        if behaviour.busy:
            pbx.set_state(leg, 0)
            pbx.emit("DialEnd", "call,all", chan, *dest, ("DialStatus", "BUSY"))
            pbx.hangup_channel(leg, 0, "Unknown")  # as recorded (callback_busy_noanswer)
            chan.variables["DIALSTATUS"] = "BUSY"
            return "BUSY", None
        pbx.set_state(leg, 5)
        answer = behaviour.answer_after_s
        if answer is None or answer >= ring_s:
            await asyncio.sleep(ring_s)
            pbx.emit("DialEnd", "call,all", chan, *dest, ("DialStatus", "NOANSWER"))
            pbx.hangup_channel(leg, 0, "Unknown")
            chan.variables["DIALSTATUS"] = "NOANSWER"
            return "NOANSWER", None
        await asyncio.sleep(answer)
    except asyncio.CancelledError:
        pbx.emit("DialEnd", "call,all", chan, *pbx.snapshot(leg, "Dest"), ("DialStatus", "CANCEL"))
        pbx.hangup_channel(leg, 16, "Normal Clearing")
        chan.variables["DIALSTATUS"] = "CANCEL"
        raise
    pbx.set_state(leg, 6)
    # Set as the call is answered: a hang-up of ``chan`` while it talks leaves ANSWER.
    chan.variables["DIALSTATUS"] = "ANSWER"
    pbx.emit("DialEnd", "call,all", chan, *pbx.snapshot(leg, "Dest"), ("DialStatus", "ANSWER"))
    if not hold:
        return "ANSWER", leg
    bridge = pbx.bridge(chan, leg)
    started = asyncio.get_running_loop().time()
    if record:  # MixMonitor opens its files with the first audio frames
        record = pbx.open_recording(record)
    try:
        await asyncio.sleep(behaviour.talk_s)
    finally:
        pbx.unbridge(bridge, chan, leg)  # the leg hangs up (or the caller did)
        if record:
            pbx.finish_recording(record, asyncio.get_running_loop().time() - started)
    return "ANSWER", leg


async def _callback(pbx: SimPbx, chan: Channel, variables: dict[str, str]) -> None:
    """[callback] _X.: the seat answered; dial the citizen (agent first).

    As the dialplan does with Dial's g option and its h extension: the result (AstDB and
    CallbackResult) is written once, whoever hangs up first; when the seat hangs up, with the
    DIALSTATUS Dial left (ANSWER after the citizen answered, CANCEL while it rang)."""
    state = of(pbx)
    key = variables.get(IDEMPOTENCY_VARIABLE, "")
    db_key = f"{ASTDB_FAMILY}/{key}"
    if key and db_key in state.astdb:
        return  # the dialplan's guard: this attempt already ran once, never ring twice
    if key:
        state.astdb[db_key] = "DIALLING"
    fields = {
        "City": variables.get("CITY", pbx.city),
        "CallId": variables.get("HL_CALLID", ""),
        "Task": variables.get("HL_TASK", ""),
    }
    pbx.user_event(chan, "CallbackDial", **fields)
    ring_s = float(variables.get("RING_TIMEOUT") or 30) * pbx.time_scale
    try:
        await dial_outside(pbx, chan, chan.exten, ring_s, record=variables.get("HL_REC", ""))
    finally:  # the h extension: also when the seat hung up (the task is cancelled)
        status = chan.variables.get("DIALSTATUS") or "CANCEL"
        if key:
            state.astdb[db_key] = status
        pbx.user_event(chan, "CallbackResult", **fields, DialStatus=status)


FLOWS["callback"] = _callback


def db_get(pbx: SimPbx, family: str, key: str) -> str | None:
    return of(pbx).astdb.get(f"{family}/{key}")


async def stop(pbx: SimPbx) -> None:
    tasks = list(of(pbx).tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
