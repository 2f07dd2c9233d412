"""The simulated PBX of one city: channels and calls that follow docs/dialplan-contract.md.

It is a stand-in for Asterisk running asterisk_conf/: a caller arrives in [from-pstn], picks a
branch of the IVR, is parked in [acd-wait] with music on hold, and waits for the controller's
Setvar + Redirect to [acd-connect], which dials the seat; an unanswered dial reports
SeatResult and returns the caller to [acd-wait]; if no Redirect comes in FALLBACK_AFTER
seconds the dialplan's own fallback runs. Event shapes (headers, order, causes) are those of
the real captures in tests/fixtures/ami.

Scope here: the inbound ACD path, the fallback Queue() (sim/queue.py) and MixMonitor's
files (sim/recorder.py). Originate and [callback] are in sim/outbound.py; conferences, blind
transfers and ChanSpy in sim/conference.py. What differs from Asterisk: sim/FIDELITY.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim import dialplan
from sim.kernel import CAUSE_TEXT, MOVING, Channel, Kernel
from sim.queue import QueueMember, run_queue

if TYPE_CHECKING:
    from sim.recorder import Recorder

log = logging.getLogger(__name__)
JOURNAL_CONTEXT = "hl-journal"  # ivr/journal.py's hangup handler, in extensions_ivr.conf


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
    # None: [from-pstn] and the IVR. A skill name: the caller is handed to the ACD at once,
    # as an IVR branch ends (the shape of the captures' [acd-entry]); no menu events.
    route_skill: str | None = None
    # A queue name: the caller goes straight into Queue() (the captures' [direct-queue]).
    queue: str | None = None


class SimPbx(Kernel):
    """One city's PBX: the kernel (sim.kernel) running the dialplan contexts above."""

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
        recorder: Recorder | None = None,
        queues: dict[str, list[QueueMember]] | None = None,
        queue_timeout_s: float | None = 300.0,
        time_scale: float = 1.0,
    ) -> None:
        super().__init__(city, epoch=epoch, systemname=systemname, recorder=recorder)
        self.seats = seats
        self.fallback_after_s = fallback_after_s
        self.moh_chunk_s = moh_chunk_s
        # Seats of other cities, reached over the inter-city trunk (PJSIP/<seat>@trunk-<city>).
        self.remote_seats: dict[str, SeatBehaviour] = {}
        self.menu = menu
        self.plan = plan if plan is not None else dialplan.load()
        self.open_hours = True  # what GotoIfTime sees (the simulator has no wall calendar)
        self.finished: list[dict[str, str]] = []  # one entry per caller that left
        # app_queue queues the dialplan's fallback runs (name -> members in ring order).
        self.queues = queues or {}
        self.queue_timeout_s = queue_timeout_s
        # Seats whose softphone is not registered: Asterisk cannot even create their channel
        # (an Originate to one fails at once with Reason 0).
        self.unregistered: set[str] = set()
        # app_queue's paused members, per queue (AMI QueuePause); static members start unpaused.
        self.paused_members: dict[str, set[str]] = {}
        # Durations the dialplan reads from variables (RING_TIMEOUT) are multiplied by this,
        # so a scripted scenario can run faster than real time.
        self.time_scale = time_scale
        # Per-ring behaviour of a seat (a traffic generator's operators); None: the tables.
        self.seat_dice: Callable[[str], SeatBehaviour | None] | None = None

    # --- AMI-facing operations (besides the kernel's) ---------------------------------
    def redirect(self, name: str, context: str, exten: str) -> bool:
        chan = self.find(name)
        if chan is None:
            return False
        if context != "acd-connect":
            raise ValueError(f"the simulator does not run context {context!r} yet")
        chan.context, chan.exten, chan.priority = context, exten, 1
        chan.redirected.set()
        return True

    def pause_member(self, interface: str, paused: bool, queue: str | None = None) -> bool:
        """QueuePause: in one queue, or in every queue the interface is a member of. False
        when it is a member of none (app_queue: "Interface not found")."""
        names = [
            name
            for name, members in self.queues.items()
            if (queue is None or name == queue) and any(m.interface == interface for m in members)
        ]
        for name in names:
            held = self.paused_members.setdefault(name, set())
            if paused:
                held.add(interface)
            else:
                held.discard(interface)
        return bool(names)

    def member_paused(self, queue: str, interface: str) -> bool:
        return interface in self.paused_members.get(queue, ())

    def hangup_channel(self, chan: Channel, cause: int, text: str) -> None:
        """As Asterisk: the channel's hangup handlers run first (in the order pushed, last
        first), then the Hangup event."""
        if not chan.gone and not chan.variables.get(MOVING):
            while chan.hangup_handlers:
                self._run_handler(chan, chan.hangup_handlers.pop())
        super().hangup_channel(chan, cause, text)

    def _run_handler(self, chan: Channel, where: str) -> None:
        context, exten, _priority = where.split(",")
        call = dialplan.Call(
            globals=dict(self.globals),
            vars=dict(chan.variables),
            caller=chan.caller_num,
            clock=int(time.time()),
            astdb=self.astdb,  # the same dict: the handler writes the PBX's AstDB
        )
        try:
            dialplan.walk(self.plan, call, context, exten)
        except (dialplan.DialplanError, KeyError, ValueError):
            # Asterisk logs a failing handler and hangs up all the same
            log.exception("sim %s: hangup handler %s failed", self.city, where)
        for event in call.events:
            fields = dict(event)
            self.user_event(chan, fields.pop("Event"), **fields)

    # --- the dialplan ------------------------------------------------------------------
    def place_call(self, script: CallerScript) -> Channel:
        """A citizen calls 12345; returns the caller's channel (its task runs the call)."""
        chan = self.new_channel(
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
            if not chan.variables.get(MOVING):  # else redirected on (sim.conference)
                self.hangup_channel(chan, chan.cause, CAUSE_TEXT.get(chan.cause, "Unknown"))
                self.finished.append({"call_id": chan.linkedid, "outcome": outcome})

    def _emit_stop_moh(self, chan: Channel) -> None:
        if chan.variables.pop("_moh", None):
            self.emit("MusicOnHoldStop", "call,all", chan)

    async def _caller_flow(self, chan: Channel, script: CallerScript) -> str:
        self.set_state(chan, 6)
        chan.app, chan.app_data = "BackGround", "hl-welcome"
        chan.variables.update(CITY=self.city, HL_CALLID=chan.uniqueid)
        if script.queue is not None:
            return await self._direct_queue(chan, script.queue, script.patience_s)
        if script.route_skill is not None:
            chan.variables.update(SKILL=script.route_skill, HL_PATH="")
            self.user_event(
                chan,
                "HotlineRoute",
                City=self.city,
                CallId=chan.uniqueid,
                Skill=script.route_skill,
                CallerNum=script.caller_num,
                Path="",
                CallPriority="0",
            )
            return await self._parked(chan, script)
        # [from-pstn]'s call journal: arrival, stage, and the hangup handler (ivr/journal.py)
        chan.variables.update(HL_ARRIVAL=str(int(time.time())), HL_STAGE="ivr")
        chan.hangup_handlers.append(f"{JOURNAL_CONTEXT},s,1")
        holiday = "1" if self.globals.get("HL_HOLIDAY") == "1" else "0"
        self.user_event(
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
            self.user_event(chan, fields.pop("Event"), **fields)
        chan.variables.update(call.vars)
        if call.end != "parked":
            return "callback_accepted" if call.end == "hangup" else "ivr_hangup"
        return await self._parked(chan, script)

    async def _parked(self, chan: Channel, script: CallerScript) -> str:
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
        """[acd-wait]: MusicOnHold in chunks; between chunks, the fallback check."""
        loop = asyncio.get_running_loop()
        chan.context, chan.exten, chan.priority = "acd-wait", "s", 2
        # As the dialplan's first line: the epoch second of the first entry, kept on returns.
        chan.variables.setdefault("WAIT_START", str(int(time.time())))
        chan.variables["HL_STAGE"] = "wait"
        chan.redirected.clear()
        while True:
            # MusicOnHold(default,<chunk>); a Redirect interrupts it at once.
            chan.variables["_moh"] = "1"
            chan.app, chan.app_data = "MusicOnHold", f"default,{self.moh_chunk_s:g}"
            self.emit("MusicOnHoldStart", "call,all", chan, ("Class", "default"))
            chunk_end = loop.time() + self.moh_chunk_s
            leaving = deadline <= chunk_end  # the caller hangs up during this chunk
            try:
                await asyncio.wait_for(
                    chan.redirected.wait(), max(0.0, min(deadline, chunk_end) - loop.time())
                )
            except TimeoutError:
                if leaving:
                    return None  # the hang-up path stops the music just before the Hangup
            else:
                self._emit_stop_moh(chan)
                return "redirected"
            self._emit_stop_moh(chan)
            waited = loop.time() - wait_start
            if waited + 1e-6 < self.fallback_after_s:
                continue
            self.user_event(
                chan,
                "HotlineFallback",
                City=self.city,
                CallId=chan.uniqueid,
                Waited=str(round(waited / self.time_scale)),
                Queue=f"{self.city}-{chan.variables.get('SKILL', 'general')}",
            )
            chan.variables["HL_STAGE"] = "fallback"
            await self._fallback_queue(chan, deadline)
            return "fallback"

    async def _direct_queue(self, chan: Channel, name: str, patience_s: float) -> str:
        chan.context, chan.exten = "direct-queue", name
        try:
            status = await asyncio.wait_for(
                run_queue(self, chan, name, self.queues.get(name, []), self.queue_timeout_s),
                patience_s,
            )
        except TimeoutError:
            return "abandoned"
        return "answered" if status == "ANSWERED" else "timeout"

    async def _fallback_queue(self, chan: Channel, deadline: float) -> None:
        """Queue(${CITY}-${SKILL}): app_queue answers, or the caller gives up."""
        name = f"{self.city}-{chan.variables.get('SKILL', 'general')}"
        members = self.queues.get(name)
        loop = asyncio.get_running_loop()
        if members is None:  # no such queue configured here: the caller waits, then leaves
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            return
        chan.context, chan.exten = "acd-wait", "s"
        with contextlib.suppress(TimeoutError):
            status = await asyncio.wait_for(
                run_queue(self, chan, name, members, self.queue_timeout_s),
                max(0.0, deadline - loop.time()),
            )
            chan.variables["QUEUESTATUS"] = status

    async def _connect(self, chan: Channel) -> bool:
        """[acd-connect]: dial SEAT; True when answered and the call ended normally."""
        seat_dial = chan.variables.get("SEAT", "")
        ring_s = float(chan.variables.get("RING_TIMEOUT", "15") or 15) * self.time_scale
        self.user_event(chan, "SeatDial", City=self.city, CallId=chan.uniqueid, Seat=seat_dial)
        chan.variables["HL_STAGE"] = "seat"
        chan.app, chan.app_data = "Dial", f"{seat_dial},{chan.variables.get('RING_TIMEOUT', '')}"
        self.emit("MixMonitorStart", "call,all", chan)
        seat_id = seat_dial.split("/", 1)[-1].split("@", 1)[0]
        behaviour = self.seat_dice(seat_id) if self.seat_dice is not None else None
        behaviour = behaviour or self.seats.get(seat_id) or self.remote_seats.get(seat_id)
        if behaviour is None:
            behaviour = SeatBehaviour(answer_after_s=None)  # no such phone: it never answers
        seat = self.dial_leg(chan, seat_dial)
        self.emit(
            "DialBegin",
            "call,all",
            chan,
            *self.snapshot(seat, "Dest"),
            ("DialString", seat_dial.split("/", 1)[-1]),
        )
        self.set_state(seat, 5)
        answer = behaviour.answer_after_s
        if answer is None or answer >= ring_s:
            await asyncio.sleep(ring_s)
            self.emit(
                "DialEnd",
                "call,all",
                chan,
                *self.snapshot(seat, "Dest"),
                ("DialStatus", "NOANSWER"),
            )
            self.hangup_channel(seat, 0, "Unknown")
            chan.variables["DIALSTATUS"] = "NOANSWER"
            self.user_event(
                chan,
                "SeatResult",
                City=self.city,
                CallId=chan.uniqueid,
                Seat=seat_dial,
                DialStatus="NOANSWER",
            )
            self.emit("MixMonitorStop", "call,all", chan)
            return False
        try:
            await asyncio.sleep(answer)
        except asyncio.CancelledError:
            self.emit(
                "DialEnd", "call,all", chan, *self.snapshot(seat, "Dest"), ("DialStatus", "CANCEL")
            )
            self.hangup_channel(seat, 16, "Normal Clearing")
            chan.variables["DIALSTATUS"] = "CANCEL"
            raise
        self.set_state(seat, 6)
        self.emit(
            "DialEnd", "call,all", chan, *self.snapshot(seat, "Dest"), ("DialStatus", "ANSWER")
        )
        bridge = self.bridge(chan, seat)
        chan.variables["DIALSTATUS"] = "ANSWER"
        # Dial's U(hl-journal-answered) on the seat: MASTER_CHANNEL(HL_ANSWERED)=${EPOCH}
        chan.variables["HL_ANSWERED"] = str(int(time.time()))
        # MixMonitor only writes while audio frames flow: from the answer to the hang-up.
        recording = self._start_recording(chan)
        started = asyncio.get_running_loop().time()
        try:
            await asyncio.sleep(behaviour.talk_s)
        finally:
            self.unbridge(bridge, chan, seat)
            if recording is not None:
                self.finish_recording(recording, asyncio.get_running_loop().time() - started)
        return True

    def _start_recording(self, chan: Channel) -> str | None:
        return self.open_recording(chan.variables.get("HL_REC", "")) or None
