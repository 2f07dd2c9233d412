"""The kernel of the simulated PBX: channels, their events, bridges, recordings, feature state.

This is the public surface the feature modules of sim/ (the dialplan flows in sim.engine,
app_queue in sim.queue, Originate in sim.outbound, ConfBridge in sim.conference, the AMI
server) build on; none of them reaches into another's internals:

- ``listen(emit)``: subscribe to every event, as AMI header lists;
- ``emit(event, privilege, chan, *extra)``: send one event (``chan``'s snapshot included);
- ``snapshot(chan, prefix)``: a channel's headers as Asterisk writes them (``Dest...``);
- ``new_channel`` / ``dial_leg``: create a channel (Newchannel), for a caller or a Dial();
- ``set_state``, ``user_event``, ``hangup_channel``: Newstate, a UserEvent, the Hangup;
- ``bridge`` / ``unbridge``: a basic two-party bridge and its teardown;
- ``open_recording`` / ``finish_recording``: MixMonitor's files;
- ``feature(kind, make)``: the typed state of one feature module, held by the kernel;
- ``find``, ``live``, ``setvar``, ``getvar``, ``hangup``, ``stop``: what AMI actions reach.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sim.recorder import Recorder

log = logging.getLogger(__name__)

Emit = Callable[[list[tuple[str, str]]], None]
FeatureT = TypeVar("FeatureT")

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
CAUSE_TEXT = {0: "Unknown", 16: "Normal Clearing", 17: "User busy", 19: "No user responding"}
# A channel variable: the channel is moving to a flow of sim.conference, which owns it now,
# so the flow it leaves must not hang it up.
MOVING = "_moving"


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
    cause: int = 16  # what its Hangup will report (an AMI Hangup without Cause: 0)
    # What CoreShowChannels reports (the controller's resync reads Application and BridgeId).
    app: str = ""
    app_data: str = ""
    bridge: str = ""
    created: float = field(default_factory=time.monotonic)
    # CHANNEL(hangup_handler_push): "context,exten,priority", run as the channel hangs up
    hangup_handlers: list[str] = field(default_factory=list)


class Kernel:
    def __init__(
        self,
        city: str,
        *,
        epoch: int | None = None,
        systemname: str | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.city = city
        self.channels: dict[str, Channel] = {}  # by name
        self.globals: dict[str, str] = {}
        # AstDB ("family/key" -> value): the [callback] guard, return visits, the call journal
        self.astdb: dict[str, str] = {}
        self._listeners: list[Emit] = []
        self._epoch = epoch or int(time.time())
        # Asterisk prefixes Uniqueid/Linkedid with asterisk.conf's systemname when set; every
        # city's PBX needs its own, or two PBXs started in the same second share call ids.
        self._id_prefix = f"{systemname or city}-"
        self._seq = itertools.count()
        self._chan_seq = itertools.count(1)
        # MixMonitor's files (None: no audio, as in most tests and the benchmark).
        self.recorder = recorder
        self._writes: set[asyncio.Task[None]] = set()
        self._features: dict[type, object] = {}

    # --- events --------------------------------------------------------------------------
    def listen(self, emit: Emit) -> Callable[[], None]:
        self._listeners.append(emit)
        return lambda: self._listeners.remove(emit)

    def emit(
        self, event: str, privilege: str, chan: Channel | None, *extra: tuple[str, str]
    ) -> None:
        headers = [("Event", event), ("Privilege", privilege)]
        if chan is not None:
            headers += self.snapshot(chan)
        headers += list(extra)
        for emit in list(self._listeners):
            emit(headers)

    def snapshot(self, chan: Channel, prefix: str = "") -> list[tuple[str, str]]:
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

    def user_event(self, chan: Channel, name: str, **fields: str) -> None:
        self.emit(
            "UserEvent", "user,all", chan, ("UserEvent", name), *((k, v) for k, v in fields.items())
        )

    # --- channels ------------------------------------------------------------------------
    def new_channel(
        self,
        tech: str,
        caller_num: str,
        caller_name: str,
        context: str,
        exten: str,
        linkedid: str | None = None,
        suffix: str = "",
    ) -> Channel:
        uniqueid = self._next_uniqueid()
        name = f"{tech}-{next(self._chan_seq):08x}{suffix}"  # suffix ";1": a Local channel
        chan = Channel(
            name, uniqueid, linkedid or uniqueid, caller_num, caller_name, context, exten
        )
        self.channels[name] = chan
        self.emit("Newchannel", "call,all", chan)
        return chan

    def dial_leg(self, chan: Channel, dial: str) -> Channel:
        """The channel Dial() creates for a dial string, on the caller's Linkedid.

        ``PJSIP/1001`` is a local seat, ``PJSIP/1001@trunk-xy`` one of another city (the
        channel is the trunk's), ``Local/2101@agents2`` a Local channel as in the captures
        (only its ;1 half: the ;2 half is the simulated phone and carries nothing we read).
        """
        tech, _, rest = dial.partition("/")
        target, _, where = rest.partition("@")
        if tech == "Local":
            name, context = f"{dial}-{next(self._chan_seq):08x};1", where or "default"
            return self._leg(name, chan, context, target)
        name = f"PJSIP/{where or target}-{next(self._chan_seq):08x}"
        return self._leg(name, chan, "seats", target)

    def _leg(self, name: str, chan: Channel, context: str, exten: str) -> Channel:
        leg = Channel(
            name,
            self._next_uniqueid(),
            chan.linkedid,
            chan.caller_num,
            chan.caller_name,
            context,
            exten,
        )
        leg.app, leg.app_data = "AppDial", "(Outgoing Line)"
        self.channels[name] = leg
        self.emit("Newchannel", "call,all", leg)
        return leg

    def _next_uniqueid(self) -> str:
        return f"{self._id_prefix}{self._epoch}.{next(self._seq)}"

    def set_state(self, chan: Channel, state: int) -> None:
        chan.state = state
        self.emit("Newstate", "call,all", chan)

    def hangup_channel(self, chan: Channel, cause: int, text: str) -> None:
        """The channel's Hangup event, once; a channel that is moving is left alone."""
        if chan.gone or chan.variables.get(MOVING):
            return
        chan.gone = True
        self.channels.pop(chan.name, None)
        self.emit("Hangup", "call,all", chan, ("Cause", str(cause)), ("Cause-txt", text))

    def find(self, name: str) -> Channel | None:
        chan = self.channels.get(name)
        return None if chan is None or chan.gone else chan

    def live(self) -> list[Channel]:
        return [c for c in self.channels.values() if not c.gone]

    # --- AMI-facing operations -----------------------------------------------------------
    def setvar(self, name: str | None, variable: str, value: str) -> bool:
        if name is None:
            self.globals[variable] = value
            self.emit(
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
        self.emit("VarSet", "dialplan,all", chan, ("Variable", variable), ("Value", value))
        return True

    def getvar(self, name: str | None, variable: str) -> str | None:
        if name is None:
            return self.globals.get(variable, "")
        chan = self.find(name)
        return None if chan is None else chan.variables.get(variable, "")

    def hangup(self, name: str, cause: int = 16) -> bool:
        chan = self.find(name)
        if chan is None:
            return False
        chan.cause = cause
        if chan.task is not None:
            chan.task.cancel()
        else:
            self.hangup_channel(chan, cause, CAUSE_TEXT.get(cause, "Unknown"))
        return True

    async def stop(self) -> None:
        """Hang up every call still running (their tasks end with the simulator)."""
        tasks = [c.task for c in list(self.channels.values()) if c.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*list(self._writes), return_exceptions=True)

    # --- bridges -------------------------------------------------------------------------
    def bridge(self, chan: Channel, seat: Channel) -> str:
        bridge = str(uuid.uuid4())
        chan.bridge = seat.bridge = bridge
        self.emit("BridgeCreate", "call,all", None, *_bridge(bridge, 0))
        for n, c in enumerate((seat, chan), 1):
            self.emit("BridgeEnter", "call,all", c, *_bridge(bridge, n))
        return bridge

    def unbridge(self, bridge: str, chan: Channel, seat: Channel) -> None:
        # The seat hangs up (or the caller did); Dial has no g option, so both go.
        chan.bridge = seat.bridge = ""
        self.emit("BridgeLeave", "call,all", seat, *_bridge(bridge, 1))
        self.hangup_channel(seat, 16, "Normal Clearing")
        self.emit("BridgeLeave", "call,all", chan, *_bridge(bridge, 0))
        self.emit("BridgeDestroy", "call,all", None, *_bridge(bridge, 0))

    # --- recordings ----------------------------------------------------------------------
    def open_recording(self, base: str) -> str:
        """The base name of the files now open, or "" when nothing records."""
        if self.recorder is None or not base:
            return ""
        try:
            self.recorder.begin(base)
        except OSError as exc:  # as MixMonitor: the call goes on unrecorded
            log.error("sim %s: cannot open recording %s: %s", self.city, base, exc)
            return ""
        return base

    def finish_recording(self, base: str, talk_s: float) -> None:
        """Write the files of a recording opened with ``open_recording`` (in the background)."""
        if self.recorder is None:
            return
        task = asyncio.get_running_loop().create_task(self.recorder.write(base, talk_s))
        self._writes.add(task)
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sim %s: recording not written: %s", self.city, task.exception())

    async def recordings_written(self) -> None:
        """Wait for the recordings of calls that have ended to be on disk."""
        await asyncio.gather(*list(self._writes), return_exceptions=True)

    # --- feature state -------------------------------------------------------------------
    def feature(self, kind: type[FeatureT], make: Callable[[], FeatureT]) -> FeatureT:
        """The state of one feature module (its rooms, its dialled phones), made on first use.

        A feature module keeps its state here, typed by its own class, so the kernel needs
        no import of it and two simulated PBXs never share it.
        """
        state = self._features.get(kind)
        if state is None:
            state = self._features[kind] = make()
        if not isinstance(state, kind):
            raise TypeError(f"feature state of {kind.__name__} is a {type(state).__name__}")
        return state


def _bridge(bridge: str, count: int) -> tuple[tuple[str, str], ...]:
    return (
        ("BridgeUniqueid", bridge),
        ("BridgeType", "basic"),
        ("BridgeTechnology", "simple_bridge"),
        ("BridgeCreator", "<unknown>"),
        ("BridgeName", "<unknown>"),
        ("BridgeNumChannels", str(count)),
        ("BridgeVideoSourceMode", "none"),
    )
