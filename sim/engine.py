"""The simulated PBX of one city: channels and calls that follow docs/dialplan-contract.md.

It is a stand-in for Asterisk running asterisk_conf/: a caller arrives in [from-pstn], picks a
branch of the IVR, is parked in [acd-wait] with music on hold, and waits for the controller's
Setvar + Redirect to [acd-connect], which dials the seat; an unanswered dial reports
SeatResult and returns the caller to [acd-wait]; if no Redirect comes in FALLBACK_AFTER
seconds the dialplan's own fallback runs. Event shapes (headers, order, causes) are those of
the real captures in shared/fixtures/ami.

Scope here: the inbound ACD path. Originate and [callback] are in sim/outbound.py;
conferences, blind transfers and ChanSpy in sim/conference.py.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sim import dialplan

Emit = Callable[[list[tuple[str, str]]], None]

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}


@dataclass
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    caller_num: str
    caller_name: str
    context: str
    exten: str = "s"
    priority: int = 1
    state: int = 0
    variables: dict[str, str] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    redirected: asyncio.Event = field(default_factory=asyncio.Event)
    gone: bool = False


@dataclass(frozen=True)
class SeatBehaviour:
    answer_after_s: float | None = 0.2  # None: never answers
    talk_s: float = 0.5


@dataclass(frozen=True)
class CallerScript:
    caller_num: str
    digits: str = "1"  # keys pressed in the menu, one per prompt; "t" = no input (timeout)
    patience_s: float = 60.0  # hangs up after waiting this long in [acd-wait]
    caller_name: str = ""
    hangs_up_in_menu: bool = False


class SimPbx:
    def __init__(
        self,
        city: str,
        seats: dict[str, SeatBehaviour],
        *,
        fallback_after_s: float = 60.0,
        moh_chunk_s: float = 10.0,
        epoch: int | None = None,
        systemname: str | None = None,
        menu: str = "12345",
        plan: dialplan.Plan | None = None,
    ) -> None:
        self.city = city
        self.seats = seats
        self.fallback_after_s = fallback_after_s
        self.moh_chunk_s = moh_chunk_s
        self.channels: dict[str, Channel] = {}  # by name
        self.globals: dict[str, str] = {}
        self._listeners: list[Emit] = []
        # Seats of other cities, reached over the inter-city trunk (PJSIP/<seat>@trunk-<city>).
        self.remote_seats: dict[str, SeatBehaviour] = {}
        self.menu = menu
        self.plan = plan if plan is not None else dialplan.load()
        self.open_hours = True  # what GotoIfTime sees (the simulator has no wall calendar)
        self._epoch = epoch or int(time.time())
        # Asterisk prefixes Uniqueid/Linkedid with asterisk.conf's systemname when set; every
        # city's PBX needs its own, or two PBXs started in the same second share call ids.
        self._id_prefix = f"{systemname or city}-"
        self._seq = itertools.count()
        self._chan_seq = itertools.count(1)
        self.finished: list[dict[str, str]] = []  # one entry per caller that left

    # --- plumbing ------------------------------------------------------------------------
    def listen(self, emit: Emit) -> Callable[[], None]:
        self._listeners.append(emit)
        return lambda: self._listeners.remove(emit)

    def _emit(
        self, event: str, privilege: str, chan: Channel | None, *extra: tuple[str, str]
    ) -> None:
        headers = [("Event", event), ("Privilege", privilege)]
        if chan is not None:
            headers += self._snapshot(chan)
        headers += list(extra)
        for emit in list(self._listeners):
            emit(headers)

    def _snapshot(self, chan: Channel, prefix: str = "") -> list[tuple[str, str]]:
        return [
            (f"{prefix}Channel", chan.name),
            (f"{prefix}ChannelState", str(chan.state)),
            (f"{prefix}ChannelStateDesc", STATE_DESC.get(chan.state, "Unknown")),
            (f"{prefix}CallerIDNum", chan.caller_num),
            (f"{prefix}CallerIDName", chan.caller_name or "<unknown>"),
            (f"{prefix}ConnectedLineNum", "<unknown>"),
            (f"{prefix}ConnectedLineName", "<unknown>"),
            (f"{prefix}Language", "zh"),
            (f"{prefix}AccountCode", ""),
            (f"{prefix}Context", chan.context),
            (f"{prefix}Exten", chan.exten),
            (f"{prefix}Priority", str(chan.priority)),
            (f"{prefix}Uniqueid", chan.uniqueid),
            (f"{prefix}Linkedid", chan.linkedid),
        ]

    def _new_channel(
        self,
        tech: str,
        caller_num: str,
        caller_name: str,
        context: str,
        exten: str,
        linkedid: str | None = None,
    ) -> Channel:
        uniqueid = f"{self._id_prefix}{self._epoch}.{next(self._seq)}"
        name = f"{tech}-{next(self._chan_seq):08x}"
        chan = Channel(
            name, uniqueid, linkedid or uniqueid, caller_num, caller_name, context, exten
        )
        self.channels[name] = chan
        self._emit("Newchannel", "call,all", chan)
        return chan

    def _set_state(self, chan: Channel, state: int) -> None:
        chan.state = state
        self._emit("Newstate", "call,all", chan)

    def _user_event(self, chan: Channel, name: str, **fields: str) -> None:
        self._emit(
            "UserEvent", "user,all", chan, ("UserEvent", name), *((k, v) for k, v in fields.items())
        )

    def _hangup(self, chan: Channel, cause: int, text: str) -> None:
        if chan.gone or chan.variables.get("_moving"):
            return  # gone, or moving to a flow of sim.conference, which owns it now
        chan.gone = True
        self.channels.pop(chan.name, None)
        self._emit("Hangup", "call,all", chan, ("Cause", str(cause)), ("Cause-txt", text))

    # --- AMI-facing operations (what the server calls) ----------------------------------
    def find(self, name: str) -> Channel | None:
        chan = self.channels.get(name)
        return None if chan is None or chan.gone else chan

    def setvar(self, name: str | None, variable: str, value: str) -> bool:
        if name is None:
            self.globals[variable] = value
            self._emit(
                "VarSet",
                "dialplan,all",
                None,
                ("Channel", "none"),
                ("Uniqueid", "none"),
                ("Variable", variable),
                ("Value", value),
            )
            return True
        chan = self.find(name)
        if chan is None:
            return False
        chan.variables[variable] = value
        self._emit("VarSet", "dialplan,all", chan, ("Variable", variable), ("Value", value))
        return True

    def getvar(self, name: str | None, variable: str) -> str | None:
        if name is None:
            return self.globals.get(variable, "")
        chan = self.find(name)
        return None if chan is None else chan.variables.get(variable, "")

    def redirect(self, name: str, context: str, exten: str) -> bool:
        chan = self.find(name)
        if chan is None:
            return False
        if context != "acd-connect":
            raise ValueError(f"the simulator does not run context {context!r} yet")
        chan.context, chan.exten, chan.priority = context, exten, 1
        chan.redirected.set()
        return True

    def hangup(self, name: str) -> bool:
        chan = self.find(name)
        if chan is None:
            return False
        if chan.task is not None:
            chan.task.cancel()
        else:
            self._hangup(chan, 16, "Normal Clearing")
        return True

    async def stop(self) -> None:
        """Hang up every call still running (their tasks end with the simulator)."""
        tasks = [c.task for c in list(self.channels.values()) if c.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def live(self) -> list[Channel]:
        return [c for c in self.channels.values() if not c.gone]

    # --- the dialplan ------------------------------------------------------------------
    def place_call(self, script: CallerScript) -> Channel:
        """A citizen calls 12345; returns the caller's channel (its task runs the call)."""
        chan = self._new_channel(
            "PJSIP/pstn", script.caller_num, script.caller_name, "from-pstn", "12345"
        )
        chan.task = asyncio.get_running_loop().create_task(self._run_caller(chan, script))
        return chan

    async def _run_caller(self, chan: Channel, script: CallerScript) -> None:
        outcome = "unknown"
        try:
            outcome = await self._caller_flow(chan, script)
        except asyncio.CancelledError:
            outcome = "hungup"
        finally:
            self._emit_stop_moh(chan)
            if not chan.variables.get("_moving"):  # else redirected on (sim.conference)
                self._hangup(chan, 16, "Normal Clearing")
                self.finished.append({"call_id": chan.linkedid, "outcome": outcome})

    def _emit_stop_moh(self, chan: Channel) -> None:
        if chan.variables.pop("_moh", None):
            self._emit("MusicOnHoldStop", "call,all", chan)

    async def _caller_flow(self, chan: Channel, script: CallerScript) -> str:
        self._set_state(chan, 6)
        chan.variables.update(CITY=self.city, HL_CALLID=chan.uniqueid)
        holiday = "1" if self.globals.get("HL_HOLIDAY") == "1" else "0"
        self._user_event(
            chan,
            "HotlineEnter",
            City=self.city,
            CallId=chan.uniqueid,
            CallerNum=script.caller_num,
            Holiday=holiday,
        )
        await asyncio.sleep(0.01)  # the welcome prompt: let the controller see the call first
        # The menu itself runs from the real asterisk_conf/extensions_ivr.conf.
        call = dialplan.Call(
            globals=dict(self.globals),
            inputs=[] if script.hangs_up_in_menu else list(script.digits or "t"),
            open_hours=self.open_hours,
            vars=dict(chan.variables),
            caller=script.caller_num,
            clock=int(time.time()),
        )
        dialplan.walk(self.plan, call, f"ivr-{self.menu}")
        for event in call.events:
            fields = dict(event)
            self._user_event(chan, fields.pop("Event"), **fields)
        chan.variables.update(call.vars)
        if call.end != "parked":
            return "callback_accepted" if call.end == "hangup" else "ivr_hangup"
        deadline = asyncio.get_running_loop().time() + script.patience_s
        wait_start = asyncio.get_running_loop().time()
        while True:
            answered = await self._wait_in_queue(chan, deadline, wait_start)
            if answered is None:
                return "abandoned"
            if answered == "fallback":
                return "fallback"
            if await self._connect(chan):
                return "answered"

    async def _wait_in_queue(self, chan: Channel, deadline: float, wait_start: float) -> str | None:
        loop = asyncio.get_running_loop()
        chan.context, chan.exten, chan.priority = "acd-wait", "s", 2
        chan.redirected.clear()
        chan.variables["_moh"] = "1"
        self._emit("MusicOnHoldStart", "call,all", chan, ("Class", "default"))
        fallback_at = wait_start + self.fallback_after_s
        while True:
            now = loop.time()
            timeout = min(deadline, fallback_at) - now
            if timeout <= 0:
                if now >= deadline:
                    return None
                self._emit_stop_moh(chan)
                self._user_event(
                    chan,
                    "HotlineFallback",
                    City=self.city,
                    CallId=chan.uniqueid,
                    Waited=str(int(now - wait_start)),
                    Queue=f"{self.city}-{chan.variables.get('SKILL', 'general')}",
                )
                await asyncio.sleep(max(0.0, deadline - loop.time()))
                return "fallback"
            try:
                await asyncio.wait_for(chan.redirected.wait(), timeout)
            except TimeoutError:
                continue
            self._emit_stop_moh(chan)
            return "redirected"

    async def _connect(self, chan: Channel) -> bool:
        """[acd-connect]: dial SEAT; True when answered and the call ended normally."""
        seat_dial = chan.variables.get("SEAT", "")
        ring_s = float(chan.variables.get("RING_TIMEOUT", "15") or 15)
        self._user_event(chan, "SeatDial", City=self.city, CallId=chan.uniqueid, Seat=seat_dial)
        self._emit("MixMonitorStart", "call,all", chan)
        seat_id = seat_dial.split("/", 1)[-1].split("@", 1)[0]
        behaviour = self.seats.get(seat_id) or self.remote_seats.get(seat_id)
        if behaviour is None:
            behaviour = SeatBehaviour(answer_after_s=None)  # no such phone: it never answers
        # A remote seat is reached over the inter-city trunk: the channel is the trunk's.
        tech = f"PJSIP/{seat_dial.split('@', 1)[1]}" if "@" in seat_dial else f"PJSIP/{seat_id}"
        seat = self._new_channel(
            tech,
            chan.caller_num,
            chan.caller_name,
            "seats",
            seat_id,
            linkedid=chan.linkedid,
        )
        self._set_state(seat, 5)
        self._emit(
            "DialBegin",
            "call,all",
            chan,
            *self._snapshot(seat, "Dest"),
            ("DialString", seat_dial.split("/", 1)[-1]),
        )
        answer = behaviour.answer_after_s
        if answer is None or answer >= ring_s:
            await asyncio.sleep(ring_s)
            self._emit(
                "DialEnd",
                "call,all",
                chan,
                *self._snapshot(seat, "Dest"),
                ("DialStatus", "NOANSWER"),
            )
            self._hangup(seat, 0, "Unknown")
            self._user_event(
                chan,
                "SeatResult",
                City=self.city,
                CallId=chan.uniqueid,
                Seat=seat_dial,
                DialStatus="NOANSWER",
            )
            self._emit("MixMonitorStop", "call,all", chan)
            return False
        try:
            await asyncio.sleep(answer)
        except asyncio.CancelledError:
            self._emit(
                "DialEnd", "call,all", chan, *self._snapshot(seat, "Dest"), ("DialStatus", "CANCEL")
            )
            self._hangup(seat, 16, "Normal Clearing")
            raise
        self._set_state(seat, 6)
        self._emit(
            "DialEnd", "call,all", chan, *self._snapshot(seat, "Dest"), ("DialStatus", "ANSWER")
        )
        bridge = f"sim-bridge-{chan.uniqueid}"
        self._emit("BridgeCreate", "call,all", None, ("BridgeUniqueid", bridge))
        for c in (seat, chan):
            self._emit("BridgeEnter", "call,all", c, ("BridgeUniqueid", bridge))
        try:
            await asyncio.sleep(behaviour.talk_s)
        finally:
            # The seat hangs up (or the caller did); Dial has no g option, so both go.
            self._emit("BridgeLeave", "call,all", seat, ("BridgeUniqueid", bridge))
            self._hangup(seat, 16, "Normal Clearing")
            self._emit("BridgeLeave", "call,all", chan, ("BridgeUniqueid", bridge))
            self._emit("BridgeDestroy", "call,all", None, ("BridgeUniqueid", bridge))
        return True
