"""High-level call events: what domain packages subscribe to instead of raw AMI.

Every event names its call by ``call_id`` (Asterisk's Linkedid of the caller's channel).
"Seat" events are about what the call's first channel dials: a seat for an inbound call; for
a leg originated on its own (an agent-first callback) the first channel is the seat's and the
"seat" it dials is the citizen.
They are immutable; ``to_json()`` gives the line ``hotline ami replay`` prints.

``at_ms`` is when the PBX says it happened (its Timestamp header, pbx.stamps), put on the
controller's clock (pbx.skew); the receive time for an unstamped event on a live link, None
where nothing tells (a replay without stamps, events made up after a resync). Time spent in
a busy controller's queues is not in it: a wait is measured between two ``at_ms``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class CallEvent:
    kind: ClassVar[str] = ""
    call_id: str
    # Epoch ms (see the module docstring); not part of what the event says, so not compared.
    at_ms: int | None = field(default=None, kw_only=True, compare=False)

    def to_json(self) -> dict[str, Any]:
        out = {"event": self.kind, **asdict(self)}
        if self.at_ms is None:
            del out["at_ms"]
        return out


@dataclass(frozen=True, slots=True)
class CallEntered(CallEvent):
    """A new call's first channel appeared (the caller, or an originated leg)."""

    kind: ClassVar[str] = "call_entered"
    channel: str
    caller_num: str
    caller_name: str
    context: str
    exten: str


@dataclass(frozen=True, slots=True)
class IvrChoice(CallEvent):
    kind: ClassVar[str] = "ivr_choice"
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallParked(CallEvent):
    """The dialplan handed the caller to the controller (UserEvent HotlineRoute)."""

    kind: ClassVar[str] = "call_parked"
    channel: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallQueued(CallEvent):
    """The caller entered an app_queue queue (the dialplan's fallback, or a plain Queue())."""

    kind: ClassVar[str] = "call_queued"
    channel: str
    queue: str
    position: int


@dataclass(frozen=True, slots=True)
class SeatRinging(CallEvent):
    kind: ClassVar[str] = "seat_ringing"
    channel: str
    seat_channel: str


@dataclass(frozen=True, slots=True)
class SeatAnswered(CallEvent):
    kind: ClassVar[str] = "seat_answered"
    channel: str
    seat_channel: str


@dataclass(frozen=True, slots=True)
class SeatNotAnswered(CallEvent):
    kind: ClassVar[str] = "seat_not_answered"
    channel: str
    seat_channel: str
    dial_status: str


@dataclass(frozen=True, slots=True)
class LegDialled(CallEvent):
    """A leg other than the caller dialled out (agent-first callback, department, trunk)."""

    kind: ClassVar[str] = "leg_dialled"
    channel: str
    dest_channel: str
    dial_status: str


@dataclass(frozen=True, slots=True)
class CallTransferred(CallEvent):
    """``target`` is ``exten@context`` for a blind transfer, a channel for an attended one
    (empty only when Asterisk named none); ``transferer`` is the channel that transferred."""

    kind: ClassVar[str] = "call_transferred"
    transfer: str  # "blind" or "attended"
    target: str
    transferer: str = ""


@dataclass(frozen=True, slots=True)
class CallerIdChanged(CallEvent):
    """The caller's channel got a new caller ID after it entered (NewCallerid)."""

    kind: ClassVar[str] = "caller_id_changed"
    channel: str
    caller_num: str
    caller_name: str


@dataclass(frozen=True, slots=True)
class CallMerged(CallEvent):
    """The call's last channel now belongs to another call (a phone that picked up a ringing
    seat, a transfer): no hang-up will end it, so ``call_ended`` follows at once."""

    kind: ClassVar[str] = "call_merged"
    into_call_id: str
    channel: str


@dataclass(frozen=True, slots=True)
class ConferenceJoined(CallEvent):
    """A channel joined the call's conference; ``leg_call_id`` differs for an originated leg."""

    kind: ClassVar[str] = "conference_joined"
    conference: str
    channel: str
    leg_call_id: str


@dataclass(frozen=True, slots=True)
class OriginateResult(CallEvent):
    """Asterisk's answer to an async Originate: did the originated leg answer?

    ``call_id`` is the new leg's Uniqueid (its own Linkedid), empty on failure (Asterisk says
    ``<unknown>``); ``action_id`` is the Originate's ActionID, as sent. Reason 4 = answered,
    3 = no answer, 5 = busy, 0/1 = failed.
    """

    kind: ClassVar[str] = "originate_result"
    action_id: str
    response: str
    channel: str
    reason: int


@dataclass(frozen=True, slots=True)
class ConferenceLeft(CallEvent):
    """A channel left the call's conference (hung up, kicked, or moved on)."""

    kind: ClassVar[str] = "conference_left"
    conference: str
    channel: str
    leg_call_id: str


@dataclass(frozen=True, slots=True)
class CallUserEvent(CallEvent):
    """Any other dialplan UserEvent about the call (SeatResult, HotlineFallback, Callback*)."""

    kind: ClassVar[str] = "user_event"
    name: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallerHungUp(CallEvent):
    """The caller's channel hung up; ``phase`` says where it was (``parked`` = abandoned)."""

    kind: ClassVar[str] = "caller_hung_up"
    channel: str
    cause: int
    phase: str


@dataclass(frozen=True, slots=True)
class CallEnded(CallEvent):
    kind: ClassVar[str] = "call_ended"
    cause: int
    answered: bool


@dataclass(frozen=True, slots=True)
class ResyncComplete(CallEvent):
    """The resync is over: ``calls`` are every call that is up (``call_id`` is empty)."""

    kind: ClassVar[str] = "resync_complete"
    calls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CallResynced(CallEvent):
    """After a (re)connect: a call that is already up, rebuilt from CoreShowChannels."""

    kind: ClassVar[str] = "call_resynced"
    channel: str
    caller_num: str
    phase: str
    channels: int
