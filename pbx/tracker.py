"""The call tracker: typed AMI events in, high-level call events out. No I/O.

Channels are grouped into calls by Linkedid (every leg Asterisk creates for a call shares the
caller's). A leg originated on its own (a department brought into a conference) has its own
Linkedid and is linked to the call through the conference it joins. Live traffic and recorded
captures go through this same object.

A channel belongs to exactly one call, and is found by its Uniqueid: its Linkedid only places
a channel the tracker has not seen yet. Asterisk rewrites Linkedids (a channel that joins a
bridge takes the oldest one there, ``ast_bridge_channel_update_linkedids``) and moves channels
between calls (a pickup or a REFER transfer masquerades one channel into another's place), so
a channel's Linkedid may name a call it no longer belongs to, or one that already ended.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from pbx import callevents as ce
from pbx import events as ev

_ENDED_MEMORY = 10_000
# What Asterisk's pickup sets on the phone that picked up; the cause of a call merged away.
CAUSE_ANSWERED_ELSEWHERE = 26

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
    caller_name: str = ""
    channels: set[str] = field(default_factory=set)  # uniqueids still up
    phase: str = PHASE_IVR
    answered: bool = False
    caller_gone: bool = False
    root_cause: int | None = None
    ringing: set[str] = field(default_factory=set)  # dest channels the caller is dialling
    opened: bool = False  # an event named it; a call never named ends silently


class CallTracker:
    """Feed typed events with ``handle``; subscribers get each high-level event as it happens."""

    def __init__(self) -> None:
        self.calls: dict[str, CallState] = {}
        self._chan_call: dict[str, str] = {}  # uniqueid -> call id
        self._conferences: dict[str, str] = {}  # conference name -> call id
        # What a channel is dialling (uniqueid -> dest uniqueid, dest channel): a REFER transfer
        # hands that dial to the transferee, and names the target only through it.
        self._dialling: dict[str, tuple[str, str]] = {}
        self._subscribers: list[Callable[[ce.CallEvent], None]] = []
        # Calls that ended recently: a stray late event (from a leg this tracker never saw
        # start, after attaching mid-call) must not bring a finished call back to life.
        self._ended: OrderedDict[str, None] = OrderedDict()
        # Channels that hung up recently: an event about one that comes late (a repeated
        # DialEnd) must not attach it again, or its call would wait for it forever.
        self._gone: OrderedDict[str, None] = OrderedDict()
        self.ignored = 0  # events about channels this tracker never saw (attached mid-call)

    def subscribe(self, callback: Callable[[ce.CallEvent], None]) -> None:
        self._subscribers.append(callback)

    def reset(self) -> None:
        self.calls.clear()
        self._chan_call.clear()
        self._conferences.clear()
        self._dialling.clear()
        self._ended.clear()
        self._gone.clear()

    # --- input -------------------------------------------------------------------------
    def handle(self, event: ev.Event, at_ms: int | None = None) -> list[ce.CallEvent]:
        """``at_ms``: when the event happened (see pbx.callevents), given to what it yields."""
        handler = _HANDLERS.get(type(event))
        if handler is None:
            return []
        stale = self._stale(event)
        if isinstance(event, ev.Hangup):
            self._gone[event.uniqueid] = None  # even one this tracker never knew
            if len(self._gone) > _ENDED_MEMORY:
                self._gone.popitem(last=False)
        if stale:
            self.ignored += 1
            return []
        out = handler(self, event)
        if at_ms is not None and out:
            out = [replace(item, at_ms=at_ms) for item in out]
        self._publish(out)
        return out

    def _stale(self, event: ev.Event) -> bool:
        """A late event about a channel this tracker does not know, of a call that ended.

        A known channel is never stale, whatever its Linkedid says: the Linkedid may be an
        older call's that ended first (copied on when the channel joined that call's bridge).
        """
        uniqueid = getattr(event, "uniqueid", None)
        if uniqueid is not None and uniqueid in self._chan_call:
            return False
        if uniqueid in self._gone and not isinstance(event, ev.ConfbridgeLeave):
            return True  # a ConfbridgeLeave may follow its channel's Hangup, and still counts
        return getattr(event, "linkedid", None) in self._ended

    def _publish(self, out: list[ce.CallEvent]) -> None:
        for item in out:
            call = self.calls.get(item.call_id)
            if call is not None and not isinstance(item, ce.OriginateResult):
                call.opened = True
            for callback in self._subscribers:
                callback(item)

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
        self._publish(out)
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
            call = self._call(linkedid)
            self._attach(uniqueid, call, "", [])
            return call
        return self._call(call_id)

    def _attach(
        self, uniqueid: str, call: CallState, channel: str, out: list[ce.CallEvent]
    ) -> None:
        """Make ``call`` the one call the channel belongs to (the map and the sets agree).

        A call whose last channel moves away ends here: no hang-up will come for it.
        """
        old_id = self._chan_call.get(uniqueid)
        self._chan_call[uniqueid] = call.call_id
        call.channels.add(uniqueid)
        if old_id is None or old_id == call.call_id:
            return
        old = self.calls.get(old_id)
        if old is None:
            return
        old.channels.discard(uniqueid)
        if old.channels:
            return
        if old.opened:
            out.append(ce.CallMerged(old_id, call.call_id, channel))
        self._end(old, CAUSE_ANSWERED_ELSEWHERE, out)

    def _end(self, call: CallState, cause: int, out: list[ce.CallEvent]) -> None:
        del self.calls[call.call_id]
        self._ended[call.call_id] = None
        if len(self._ended) > _ENDED_MEMORY:
            self._ended.popitem(last=False)
        # A call nobody heard of (a leg's Linkedid seen only on its Newchannel) ends silently.
        if call.opened or any(item.call_id == call.call_id for item in out):
            out.append(ce.CallEnded(call.call_id, cause, call.answered))

    def _is_root(self, call: CallState, uniqueid: str) -> bool:
        return uniqueid == call.call_id

    # --- handlers ----------------------------------------------------------------------
    def _newchannel(self, e: ev.Newchannel) -> list[ce.CallEvent]:
        out: list[ce.CallEvent] = []
        call = self._call(e.linkedid)
        self._attach(e.uniqueid, call, e.channel, out)
        if e.uniqueid != e.linkedid:
            return out
        call.root_channel = e.channel
        call.caller_num = e.caller_num
        call.caller_name = e.caller_name
        return [
            ce.CallEntered(e.linkedid, e.channel, e.caller_num, e.caller_name, e.context, e.exten)
        ]

    def _newcallerid(self, e: ev.NewCallerid) -> list[ce.CallEvent]:
        if e.uniqueid not in self._chan_call and e.uniqueid != e.linkedid:
            return []  # only the caller's ID is read; Asterisk sends one after a leg's Hangup
        call = self._known(e.uniqueid, e.linkedid)
        if not self._is_root(call, e.uniqueid):
            return []
        if (call.caller_num, call.caller_name) == (e.caller_num, e.caller_name):
            return []
        call.caller_num, call.caller_name = e.caller_num, e.caller_name
        return [ce.CallerIdChanged(call.call_id, e.channel, e.caller_num, e.caller_name)]

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
        out: list[ce.CallEvent] = []
        # The dialled leg was placed by its Newchannel's Linkedid; the dialler's call owns it.
        self._attach(e.dest_uniqueid, call, e.dest_channel, out)
        self._dialling[e.uniqueid] = (e.dest_uniqueid, e.dest_channel)
        if self._is_root(call, e.uniqueid):
            call.phase = PHASE_RINGING
            call.ringing.add(e.dest_channel)
            out.append(ce.SeatRinging(call.call_id, e.channel, e.dest_channel))
        return out

    def _dial_end(self, e: ev.DialEnd) -> list[ce.CallEvent]:
        if e.uniqueid is None or e.linkedid is None or e.channel is None:
            return []
        call = self._known(e.uniqueid, e.linkedid)
        self._dialling.pop(e.uniqueid, None)
        if not self._is_root(call, e.uniqueid):
            return [ce.LegDialled(call.call_id, e.channel, e.dest_channel, e.dial_status)]
        out: list[ce.CallEvent] = []
        if e.dest_channel in call.ringing:
            call.ringing.discard(e.dest_channel)
        elif e.dial_status == "ANSWER" and call.ringing:
            # A phone picked up the seat that rang: Asterisk masqueraded it into the dialled
            # channel, so the answer names the picker (its Pickup event may come after this).
            call.ringing.clear()
            self._mark_picker(e.dest_uniqueid)
            self._attach(e.dest_uniqueid, call, e.dest_channel, out)
        else:
            return []  # Asterisk repeats DialEnd CANCEL on an abandon; one is enough
        if e.dial_status == "ANSWER":
            call.phase = PHASE_TALKING
            call.answered = True
            return [*out, ce.SeatAnswered(call.call_id, e.channel, e.dest_channel)]
        if call.phase == PHASE_RINGING:
            call.phase = PHASE_PARKED
        return [ce.SeatNotAnswered(call.call_id, e.channel, e.dest_channel, e.dial_status)]

    def _pickup(self, e: ev.Pickup) -> list[ce.CallEvent]:
        call_id = self._chan_call.get(e.target_uniqueid)
        if call_id is None and e.target_linkedid in self.calls:
            call_id = e.target_linkedid
        if call_id is None:
            self.ignored += 1
            return []
        call = self.calls[call_id]
        if e.target_channel in call.ringing:
            call.ringing.discard(e.target_channel)
            call.ringing.add(e.picker_channel)  # the dialler's DialEnd ANSWER names the picker
        self._mark_picker(e.picker_uniqueid)
        out: list[ce.CallEvent] = []
        self._attach(e.picker_uniqueid, call, e.picker_channel, out)
        return out

    def _mark_picker(self, uniqueid: str) -> None:
        """The picking phone's own call was answered (Asterisk answers it), and talks on."""
        own = self.calls.get(self._chan_call.get(uniqueid, ""))
        if own is not None and self._is_root(own, uniqueid):
            own.answered = True

    def _party(self, uniqueid: str | None, linkedid: str | None) -> CallState | None:
        """The call of a transfer's party, found by Uniqueid; a party not seen yet (attached
        mid-call) is placed by its Linkedid, as any other channel; one that is gone, nowhere."""
        if uniqueid is None or linkedid is None:
            return None
        if uniqueid in self._chan_call:
            return self._call(self._chan_call[uniqueid])
        if uniqueid in self._gone or linkedid in self._ended:
            return None
        return self._known(uniqueid, linkedid)

    def _blind(self, e: ev.BlindTransfer) -> list[ce.CallEvent]:
        call = self._party(e.transferee_uniqueid, e.transferee_linkedid)
        if call is None:
            self.ignored += 1
            return []
        target = f"{e.extension}@{e.context}"
        return [ce.CallTransferred(call.call_id, "blind", target, e.transferer_channel)]

    def _attended(self, e: ev.AttendedTransfer) -> list[ce.CallEvent]:
        # Without a transferee (a REFER while the second call rings) the call is the first
        # transferer's: the transferee was its peer in the call's bridge.
        call = self._party(e.transferee_uniqueid, e.transferee_linkedid) or self._party(
            e.orig_transferer_uniqueid, e.orig_transferer_linkedid
        )
        if call is None:
            self.ignored += 1
            return []
        out: list[ce.CallEvent] = []
        target, target_uid = e.target_channel, e.target_uniqueid
        dialled = self._dialling.get(e.second_transferer_uniqueid)
        if target is None and dialled is not None:
            # The transferee takes over the second call's Dial (a masquerade), so the target
            # is whatever the second transferer was dialling.
            target_uid, target = dialled
            if e.result == "Success":
                self._dialling.pop(e.second_transferer_uniqueid, None)
        if target is None:
            target = e.local_one_channel or e.dest_transferer_channel
        if target is None and e.second_transferer_channel != e.orig_transferer_channel:
            target = e.second_transferer_channel  # the transferer's leg towards the target
        if e.result == "Success" and target_uid in self._chan_call:
            self._attach(target_uid, call, target or "", out)  # it talks to the caller now
        transferer = e.orig_transferer_channel
        out.append(ce.CallTransferred(call.call_id, "attended", target or "", transferer))
        return out

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
        self._dialling.pop(e.uniqueid, None)
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
            self._end(call, cause, out)
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
    ev.Pickup: CallTracker._pickup,  # type: ignore[dict-item]
    ev.ConfbridgeJoin: CallTracker._conf_join,  # type: ignore[dict-item]
    ev.ConfbridgeLeave: CallTracker._conf_leave,  # type: ignore[dict-item]
    ev.ConfbridgeEnd: CallTracker._conf_end,  # type: ignore[dict-item]
    ev.OriginateResponse: CallTracker._originate,  # type: ignore[dict-item]
    ev.Hangup: CallTracker._hangup,  # type: ignore[dict-item]
}

# Events the tracker reads; everything else need not be typed on the hot path.
TRACKED: frozenset[str] = frozenset(getattr(cls, "name") for cls in _HANDLERS)  # noqa: B009
