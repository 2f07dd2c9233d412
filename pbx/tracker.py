"""The call tracker: typed AMI events in, high-level call events out. No I/O.

Channels are grouped into calls by Linkedid (every leg Asterisk creates for a call shares the
caller's). A leg originated on its own (a department brought into a conference) has its own
Linkedid and is linked to the call through the conference it joins. Live traffic and recorded
captures go through this same object.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pbx import callevents as ce
from pbx import events as ev

_ENDED_MEMORY = 10_000

# Where a caller is, as far as AMI tells: used for abandon detection and resync.
PHASE_IVR = "ivr"
PHASE_PARKED = "parked"
PHASE_RINGING = "ringing"
PHASE_TALKING = "talking"
PHASE_CONFERENCE = "conference"

# CoreShowChannel's Application tells a resynced caller's phase.
_APP_PHASE = {
    "Queue": PHASE_PARKED,
    "MusicOnHold": PHASE_PARKED,
    "Dial": PHASE_RINGING,
    "ConfBridge": PHASE_CONFERENCE,
    "BackGround": PHASE_IVR,
    "Background": PHASE_IVR,
    "WaitExten": PHASE_IVR,
    "Read": PHASE_IVR,
    "Playback": PHASE_IVR,
}


@dataclass
class CallState:
    call_id: str
    root_channel: str | None = None
    caller_num: str = ""
    channels: set[str] = field(default_factory=set)  # uniqueids still up
    phase: str = PHASE_IVR
    answered: bool = False
    caller_gone: bool = False
    root_cause: int | None = None
    ringing: set[str] = field(default_factory=set)  # dest channels the caller is dialling


class CallTracker:
    """Feed typed events with ``handle``; subscribers get each high-level event as it happens."""

    def __init__(self) -> None:
        self.calls: dict[str, CallState] = {}
        self._chan_call: dict[str, str] = {}  # uniqueid -> call id
        self._conferences: dict[str, str] = {}  # conference name -> call id
        self._subscribers: list[Callable[[ce.CallEvent], None]] = []
        # Calls that ended recently: a stray late event (from a leg this tracker never saw
        # start, after attaching mid-call) must not bring a finished call back to life.
        self._ended: OrderedDict[str, None] = OrderedDict()
        self.ignored = 0  # events about channels this tracker never saw (attached mid-call)

    def subscribe(self, callback: Callable[[ce.CallEvent], None]) -> None:
        self._subscribers.append(callback)

    def reset(self) -> None:
        self.calls.clear()
        self._chan_call.clear()
        self._conferences.clear()
        self._ended.clear()

    # --- input -------------------------------------------------------------------------
    def handle(self, event: ev.Event) -> list[ce.CallEvent]:
        handler = _HANDLERS.get(type(event))
        if handler is None:
            return []
        if getattr(event, "linkedid", None) in self._ended:
            self.ignored += 1
            return []
        out = handler(self, event)
        for item in out:
            for callback in self._subscribers:
                callback(item)
        return out

    def resync(self, channels: Iterable[ev.CoreShowChannel]) -> list[ce.CallEvent]:
        """Rebuild every call from a CoreShowChannels answer, forgetting what was known."""
        self.reset()
        by_call: dict[str, list[ev.CoreShowChannel]] = {}
        for chan in channels:
            by_call.setdefault(chan.linkedid, []).append(chan)
        out: list[ce.CallEvent] = []
        for call_id, chans in by_call.items():
            call = self._call(call_id)
            for chan in chans:
                call.channels.add(chan.uniqueid)
                self._chan_call[chan.uniqueid] = call_id
            root = next((c for c in chans if c.uniqueid == call_id), chans[0])
            call.root_channel = root.channel
            call.caller_num = root.caller_num
            call.phase = (
                PHASE_TALKING if root.bridge_id else _APP_PHASE.get(root.application, PHASE_IVR)
            )
            call.answered = bool(root.bridge_id)
            out.append(
                ce.CallResynced(call_id, root.channel, root.caller_num, call.phase, len(chans))
            )
        out.append(ce.ResyncComplete("", tuple(by_call)))
        for item in out:
            for callback in self._subscribers:
                callback(item)
        return out

    # --- helpers -----------------------------------------------------------------------
    def _call(self, call_id: str) -> CallState:
        call = self.calls.get(call_id)
        if call is None:
            call = self.calls[call_id] = CallState(call_id)
        return call

    def _known(self, uniqueid: str, linkedid: str) -> CallState:
        """The call a channel belongs to; created on the fly when attached mid-call."""
        call_id = self._chan_call.get(uniqueid)
        if call_id is None:
            call_id = linkedid
            self._chan_call[uniqueid] = call_id
            call = self._call(call_id)
            call.channels.add(uniqueid)
            return call
        return self._call(call_id)

    def _is_root(self, call: CallState, uniqueid: str) -> bool:
        return uniqueid == call.call_id

    # --- handlers ----------------------------------------------------------------------
    def _newchannel(self, e: ev.Newchannel) -> list[ce.CallEvent]:
        call = self._call(e.linkedid)
        call.channels.add(e.uniqueid)
        self._chan_call[e.uniqueid] = e.linkedid
        if e.uniqueid != e.linkedid:
            return []
        call.root_channel = e.channel
        call.caller_num = e.caller_num
        return [
            ce.CallEntered(e.linkedid, e.channel, e.caller_num, e.caller_name, e.context, e.exten)
        ]

    def _newcallerid(self, e: ev.NewCallerid) -> list[ce.CallEvent]:
        call = self._known(e.uniqueid, e.linkedid)
        if self._is_root(call, e.uniqueid):
            call.caller_num = e.caller_num
        return []

    def _user_event(self, e: ev.UserEvent) -> list[ce.CallEvent]:
        call = self._known(e.uniqueid, e.linkedid)
        if call.root_channel is None and self._is_root(call, e.uniqueid):
            call.root_channel = e.channel
        name = e.user_event
        if name == "HotlineRoute":
            call.phase = PHASE_PARKED
            return [ce.CallParked(call.call_id, e.channel, e.fields)]
        if name == "IvrChoice":
            return [ce.IvrChoice(call.call_id, e.fields)]
        if name == "SeatResult":
            call.phase = PHASE_PARKED
        return [ce.CallUserEvent(call.call_id, name, e.fields)]

    def _queue_join(self, e: ev.QueueCallerJoin) -> list[ce.CallEvent]:
        call = self._known(e.uniqueid, e.linkedid)
        call.phase = PHASE_PARKED
        return [ce.CallQueued(call.call_id, e.channel, e.queue, e.position)]

    def _dial_begin(self, e: ev.DialBegin) -> list[ce.CallEvent]:
        if e.uniqueid is None or e.linkedid is None or e.channel is None:
            return []  # Asterisk dialling an Originate's own channel: not a leg of a call
        call = self._known(e.uniqueid, e.linkedid)
        self._chan_call.setdefault(e.dest_uniqueid, call.call_id)
        call.channels.add(e.dest_uniqueid)
        if self._is_root(call, e.uniqueid):
            call.phase = PHASE_RINGING
            call.ringing.add(e.dest_channel)
            return [ce.SeatRinging(call.call_id, e.channel, e.dest_channel)]
        return []

    def _dial_end(self, e: ev.DialEnd) -> list[ce.CallEvent]:
        if e.uniqueid is None or e.linkedid is None or e.channel is None:
            return []
        call = self._known(e.uniqueid, e.linkedid)
        if not self._is_root(call, e.uniqueid):
            return [ce.LegDialled(call.call_id, e.channel, e.dest_channel, e.dial_status)]
        if e.dest_channel not in call.ringing:
            return []  # Asterisk repeats DialEnd CANCEL on an abandon; one is enough
        call.ringing.discard(e.dest_channel)
        if e.dial_status == "ANSWER":
            call.phase = PHASE_TALKING
            call.answered = True
            return [ce.SeatAnswered(call.call_id, e.channel, e.dest_channel)]
        if call.phase == PHASE_RINGING:
            call.phase = PHASE_PARKED
        return [ce.SeatNotAnswered(call.call_id, e.channel, e.dest_channel, e.dial_status)]

    def _blind(self, e: ev.BlindTransfer) -> list[ce.CallEvent]:
        target = f"{e.extension}@{e.context}"
        return [ce.CallTransferred(e.transferee_linkedid, "blind", target)]

    def _attended(self, e: ev.AttendedTransfer) -> list[ce.CallEvent]:
        call_id = e.transferee_linkedid or e.orig_transferer_linkedid
        return [ce.CallTransferred(call_id, "attended", e.target_channel or "")]

    def _conf_join(self, e: ev.ConfbridgeJoin) -> list[ce.CallEvent]:
        own = self._known(e.uniqueid, e.linkedid)
        call_id = self._conferences.setdefault(e.conference, own.call_id)
        if self._is_root(own, e.uniqueid):
            own.phase = PHASE_CONFERENCE
        return [ce.ConferenceJoined(call_id, e.conference, e.channel, own.call_id)]

    def _conf_leave(self, e: ev.ConfbridgeLeave) -> list[ce.CallEvent]:
        # The leaving channel may already be gone (a caller's Leave follows its Hangup).
        leg = self._chan_call.get(e.uniqueid, e.linkedid)
        call_id = self._conferences.get(e.conference, leg)
        return [ce.ConferenceLeft(call_id, e.conference, e.channel, leg)]

    def _originate(self, e: ev.OriginateResponse) -> list[ce.CallEvent]:
        return [
            ce.OriginateResult(e.uniqueid or "", e.action_id or "", e.response, e.channel, e.reason)
        ]

    def _conf_end(self, e: ev.ConfbridgeEnd) -> list[ce.CallEvent]:
        self._conferences.pop(e.conference, None)
        return []

    def _hangup(self, e: ev.Hangup) -> list[ce.CallEvent]:
        call_id = self._chan_call.pop(e.uniqueid, None)
        if call_id is None:
            if e.uniqueid != e.linkedid:
                self.ignored += 1
                return []
            call_id = e.linkedid  # the caller of a call we attached to mid-way
        call = self._call(call_id)
        call.channels.discard(e.uniqueid)
        out: list[ce.CallEvent] = []
        if self._is_root(call, e.uniqueid) and not call.caller_gone:
            call.caller_gone = True
            call.root_cause = e.cause
            out.append(ce.CallerHungUp(call_id, e.channel, e.cause, call.phase))
        if not call.channels:
            cause = call.root_cause if call.root_cause is not None else e.cause
            out.append(ce.CallEnded(call_id, cause, call.answered))
            del self.calls[call_id]
            self._ended[call_id] = None
            if len(self._ended) > _ENDED_MEMORY:
                self._ended.popitem(last=False)
        return out


_HANDLERS: dict[type, Callable[[CallTracker, ev.Event], list[ce.CallEvent]]] = {
    ev.Newchannel: CallTracker._newchannel,  # type: ignore[dict-item]
    ev.NewCallerid: CallTracker._newcallerid,  # type: ignore[dict-item]
    ev.UserEvent: CallTracker._user_event,  # type: ignore[dict-item]
    ev.QueueCallerJoin: CallTracker._queue_join,  # type: ignore[dict-item]
    ev.DialBegin: CallTracker._dial_begin,  # type: ignore[dict-item]
    ev.DialEnd: CallTracker._dial_end,  # type: ignore[dict-item]
    ev.BlindTransfer: CallTracker._blind,  # type: ignore[dict-item]
    ev.AttendedTransfer: CallTracker._attended,  # type: ignore[dict-item]
    ev.ConfbridgeJoin: CallTracker._conf_join,  # type: ignore[dict-item]
    ev.ConfbridgeLeave: CallTracker._conf_leave,  # type: ignore[dict-item]
    ev.ConfbridgeEnd: CallTracker._conf_end,  # type: ignore[dict-item]
    ev.OriginateResponse: CallTracker._originate,  # type: ignore[dict-item]
    ev.Hangup: CallTracker._hangup,  # type: ignore[dict-item]
}

# Events the tracker reads; everything else need not be typed on the hot path.
TRACKED: frozenset[str] = frozenset(getattr(cls, "name") for cls in _HANDLERS)  # noqa: B009
