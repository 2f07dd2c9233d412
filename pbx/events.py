"""Typed AMI events: the ones the product reads get their own small immutable type.

Anything else passes through as ``GenericEvent``. A field the type needs and the message
lacks raises ``MissingField`` naming both: never an empty string standing in for it.
Optional fields are typed ``str | None``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from pbx.message import Message

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "?": "?", "'": "'", "a": "\a"}
_ESCAPE_RE = re.compile(r"\\(.)")


def unescape_c(value: str) -> str:
    """Undo Asterisk's ast_escape_c, which it applies to VarSet values only."""
    if "\\" not in value:
        return value
    return _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), value)


@dataclass(frozen=True, slots=True)
class Event:
    """Base of all typed events; ``raw`` keeps every header for whoever needs more."""

    name: ClassVar[str] = ""
    raw: Message = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class GenericEvent(Event):
    event: str = ""


@dataclass(frozen=True, slots=True)
class ChannelEvent(Event):
    channel: str
    uniqueid: str
    linkedid: str


@dataclass(frozen=True, slots=True)
class Newchannel(ChannelEvent):
    name: ClassVar[str] = "Newchannel"
    state_desc: str
    caller_num: str
    caller_name: str
    context: str
    exten: str


@dataclass(frozen=True, slots=True)
class Newstate(ChannelEvent):
    name: ClassVar[str] = "Newstate"
    state_desc: str


@dataclass(frozen=True, slots=True)
class NewCallerid(ChannelEvent):
    name: ClassVar[str] = "NewCallerid"
    caller_num: str
    caller_name: str


@dataclass(frozen=True, slots=True)
class Hangup(ChannelEvent):
    name: ClassVar[str] = "Hangup"
    cause: int
    cause_txt: str | None


@dataclass(frozen=True, slots=True)
class DialBegin(Event):
    """Channel fields are absent when Asterisk dials on behalf of an Originate."""

    name: ClassVar[str] = "DialBegin"
    channel: str | None
    uniqueid: str | None
    linkedid: str | None
    dest_channel: str
    dest_uniqueid: str
    dest_linkedid: str
    dial_string: str | None


@dataclass(frozen=True, slots=True)
class DialEnd(Event):
    name: ClassVar[str] = "DialEnd"
    channel: str | None
    uniqueid: str | None
    linkedid: str | None
    dest_channel: str
    dest_uniqueid: str
    dest_linkedid: str
    dial_status: str


@dataclass(frozen=True, slots=True)
class BridgeEnter(ChannelEvent):
    name: ClassVar[str] = "BridgeEnter"
    bridge_id: str


@dataclass(frozen=True, slots=True)
class BridgeLeave(ChannelEvent):
    name: ClassVar[str] = "BridgeLeave"
    bridge_id: str


@dataclass(frozen=True, slots=True)
class VarSet(Event):
    """A global variable arrives with Channel and Uniqueid set to the literal ``none``."""

    name: ClassVar[str] = "VarSet"
    channel: str | None
    uniqueid: str | None
    linkedid: str | None
    variable: str
    value: str


@dataclass(frozen=True, slots=True)
class UserEvent(ChannelEvent):
    name: ClassVar[str] = "UserEvent"
    user_event: str
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class DTMFEnd(ChannelEvent):
    name: ClassVar[str] = "DTMFEnd"
    digit: str
    direction: str


@dataclass(frozen=True, slots=True)
class QueueCallerJoin(ChannelEvent):
    name: ClassVar[str] = "QueueCallerJoin"
    queue: str
    position: int


@dataclass(frozen=True, slots=True)
class QueueCallerLeave(ChannelEvent):
    name: ClassVar[str] = "QueueCallerLeave"
    queue: str


@dataclass(frozen=True, slots=True)
class QueueCallerAbandon(ChannelEvent):
    name: ClassVar[str] = "QueueCallerAbandon"
    queue: str
    hold_time: int


@dataclass(frozen=True, slots=True)
class AgentEvent(ChannelEvent):
    queue: str
    member_name: str
    interface: str


@dataclass(frozen=True, slots=True)
class AgentCalled(AgentEvent):
    name: ClassVar[str] = "AgentCalled"


@dataclass(frozen=True, slots=True)
class AgentConnect(AgentEvent):
    name: ClassVar[str] = "AgentConnect"


@dataclass(frozen=True, slots=True)
class AgentComplete(AgentEvent):
    name: ClassVar[str] = "AgentComplete"
    reason: str


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer(AgentEvent):
    name: ClassVar[str] = "AgentRingNoAnswer"
    ring_time_ms: int


@dataclass(frozen=True, slots=True)
class MixMonitorStart(ChannelEvent):
    name: ClassVar[str] = "MixMonitorStart"


@dataclass(frozen=True, slots=True)
class MixMonitorStop(ChannelEvent):
    name: ClassVar[str] = "MixMonitorStop"


@dataclass(frozen=True, slots=True)
class OriginateResponse(Event):
    """A failed async Originate has ``Uniqueid: <unknown>`` and the bare dial string."""

    name: ClassVar[str] = "OriginateResponse"
    action_id: str | None
    response: str
    channel: str
    uniqueid: str | None
    reason: int


@dataclass(frozen=True, slots=True)
class BlindTransfer(Event):
    name: ClassVar[str] = "BlindTransfer"
    transferer_channel: str
    transferee_channel: str
    transferee_linkedid: str
    context: str
    extension: str
    transferee_uniqueid: str | None = None


@dataclass(frozen=True, slots=True)
class AttendedTransfer(Event):
    """Transferee and target are absent when Asterisk could not name one party on a side
    (a REFER whose second call still rings: DestType App); the transferers are always there."""

    name: ClassVar[str] = "AttendedTransfer"
    result: str
    transferee_channel: str | None
    transferee_linkedid: str | None
    target_channel: str | None
    target_linkedid: str | None
    orig_transferer_linkedid: str
    orig_transferer_channel: str = ""
    orig_transferer_uniqueid: str = ""
    second_transferer_channel: str = ""
    second_transferer_uniqueid: str = ""
    transferee_uniqueid: str | None = None
    target_uniqueid: str | None = None
    dest_type: str | None = None
    local_one_channel: str | None = None
    dest_transferer_channel: str | None = None


@dataclass(frozen=True, slots=True)
class Pickup(Event):
    """A phone picked up a ringing channel: Asterisk moved the picker into the target's place
    (a masquerade), so the dialler's answer names the picker. Snapshots are from before."""

    name: ClassVar[str] = "Pickup"
    picker_channel: str
    picker_uniqueid: str
    picker_linkedid: str
    target_channel: str
    target_uniqueid: str
    target_linkedid: str


@dataclass(frozen=True, slots=True)
class ConfbridgeJoin(ChannelEvent):
    name: ClassVar[str] = "ConfbridgeJoin"
    conference: str


@dataclass(frozen=True, slots=True)
class ConfbridgeLeave(ChannelEvent):
    name: ClassVar[str] = "ConfbridgeLeave"
    conference: str


@dataclass(frozen=True, slots=True)
class ConfbridgeEnd(Event):
    name: ClassVar[str] = "ConfbridgeEnd"
    conference: str


@dataclass(frozen=True, slots=True)
class ChanSpyStart(Event):
    name: ClassVar[str] = "ChanSpyStart"
    spyer_channel: str
    spyee_channel: str
    spyee_linkedid: str


@dataclass(frozen=True, slots=True)
class ChanSpyStop(Event):
    name: ClassVar[str] = "ChanSpyStop"
    spyer_channel: str
    spyee_channel: str | None


@dataclass(frozen=True, slots=True)
class FullyBooted(Event):
    name: ClassVar[str] = "FullyBooted"


@dataclass(frozen=True, slots=True)
class Shutdown(Event):
    name: ClassVar[str] = "Shutdown"
    restart: str | None


@dataclass(frozen=True, slots=True)
class CoreShowChannel(ChannelEvent):
    """One live channel in the answer to CoreShowChannels (the resync after a reconnect)."""

    name: ClassVar[str] = "CoreShowChannel"
    state_desc: str
    caller_num: str
    caller_name: str
    context: str
    exten: str
    application: str
    bridge_id: str


def _chan(m: Message) -> tuple[str, str, str]:
    return m["Channel"], m["Uniqueid"], m["Linkedid"]


def _opt_chan(m: Message) -> tuple[str | None, str | None, str | None]:
    return m.get("Channel"), m.get("Uniqueid"), m.get("Linkedid")


def _user_fields(m: Message) -> dict[str, str]:
    # The dialplan's own fields follow the channel snapshot; the snapshot keys are noise here.
    skip = _SNAPSHOT_KEYS
    return {k: v for k, v in m.headers.items() if k not in skip}


_SNAPSHOT_KEYS = frozenset(
    [
        "Event",
        "Privilege",
        "Channel",
        "ChannelState",
        "ChannelStateDesc",
        "CallerIDNum",
        "CallerIDName",
        "ConnectedLineNum",
        "ConnectedLineName",
        "Language",
        "AccountCode",
        "Context",
        "Exten",
        "Priority",
        "Uniqueid",
        "Linkedid",
        "UserEvent",
    ]
)


def _agent(m: Message) -> tuple[str, str, str, str, str, str]:
    return (*_chan(m), m["Queue"], m["MemberName"], m["Interface"])


_BUILDERS: dict[str, Callable[[Message], Event]] = {
    "Newchannel": lambda m: Newchannel(
        m,
        *_chan(m),
        m["ChannelStateDesc"],
        m["CallerIDNum"],
        m["CallerIDName"],
        m["Context"],
        m["Exten"],
    ),
    "Newstate": lambda m: Newstate(m, *_chan(m), m["ChannelStateDesc"]),
    "NewCallerid": lambda m: NewCallerid(m, *_chan(m), m["CallerIDNum"], m["CallerIDName"]),
    "Hangup": lambda m: Hangup(m, *_chan(m), int(m["Cause"]), m.get("Cause-txt")),
    "DialBegin": lambda m: DialBegin(
        m,
        *_opt_chan(m),
        m["DestChannel"],
        m["DestUniqueid"],
        m["DestLinkedid"],
        m.get("DialString"),
    ),
    "DialEnd": lambda m: DialEnd(
        m,
        *_opt_chan(m),
        m["DestChannel"],
        m["DestUniqueid"],
        m["DestLinkedid"],
        m["DialStatus"],
    ),
    "BridgeEnter": lambda m: BridgeEnter(m, *_chan(m), m["BridgeUniqueid"]),
    "BridgeLeave": lambda m: BridgeLeave(m, *_chan(m), m["BridgeUniqueid"]),
    "VarSet": lambda m: VarSet(
        m,
        *_opt_chan(m),
        m["Variable"],
        unescape_c(m["Value"]),
    ),
    "UserEvent": lambda m: UserEvent(m, *_chan(m), m["UserEvent"], _user_fields(m)),
    "DTMFEnd": lambda m: DTMFEnd(m, *_chan(m), m["Digit"], m["Direction"]),
    "QueueCallerJoin": lambda m: QueueCallerJoin(m, *_chan(m), m["Queue"], int(m["Position"])),
    "QueueCallerLeave": lambda m: QueueCallerLeave(m, *_chan(m), m["Queue"]),
    "QueueCallerAbandon": lambda m: QueueCallerAbandon(
        m, *_chan(m), m["Queue"], int(m["HoldTime"])
    ),
    "AgentCalled": lambda m: AgentCalled(m, *_agent(m)),
    "AgentConnect": lambda m: AgentConnect(m, *_agent(m)),
    "AgentComplete": lambda m: AgentComplete(m, *_agent(m), m["Reason"]),
    "AgentRingNoAnswer": lambda m: AgentRingNoAnswer(m, *_agent(m), int(m["RingTime"])),
    "MixMonitorStart": lambda m: MixMonitorStart(m, *_chan(m)),
    "MixMonitorStop": lambda m: MixMonitorStop(m, *_chan(m)),
    "OriginateResponse": lambda m: OriginateResponse(
        m,
        m.get("ActionID"),
        m["Response"],
        m["Channel"],
        None if m["Uniqueid"] == "<unknown>" else m["Uniqueid"],
        int(m["Reason"]),
    ),
    "BlindTransfer": lambda m: BlindTransfer(
        m,
        m["TransfererChannel"],
        m["TransfereeChannel"],
        m["TransfereeLinkedid"],
        m["Context"],
        m["Extension"],
        m.get("TransfereeUniqueid"),
    ),
    "AttendedTransfer": lambda m: AttendedTransfer(
        m,
        m["Result"],
        m.get("TransfereeChannel"),
        m.get("TransfereeLinkedid"),
        m.get("TransferTargetChannel"),
        m.get("TransferTargetLinkedid"),
        m["OrigTransfererLinkedid"],
        m["OrigTransfererChannel"],
        m["OrigTransfererUniqueid"],
        m["SecondTransfererChannel"],
        m["SecondTransfererUniqueid"],
        m.get("TransfereeUniqueid"),
        m.get("TransferTargetUniqueid"),
        m.get("DestType"),
        m.get("LocalOneChannel"),
        m.get("DestTransfererChannel"),
    ),
    "Pickup": lambda m: Pickup(
        m,
        *_chan(m),
        m["TargetChannel"],
        m["TargetUniqueid"],
        m["TargetLinkedid"],
    ),
    "ConfbridgeJoin": lambda m: ConfbridgeJoin(m, *_chan(m), m["Conference"]),
    "ConfbridgeLeave": lambda m: ConfbridgeLeave(m, *_chan(m), m["Conference"]),
    "ConfbridgeEnd": lambda m: ConfbridgeEnd(m, m["Conference"]),
    "ChanSpyStart": lambda m: ChanSpyStart(
        m, m["SpyerChannel"], m["SpyeeChannel"], m["SpyeeLinkedid"]
    ),
    "ChanSpyStop": lambda m: ChanSpyStop(m, m["SpyerChannel"], m.get("SpyeeChannel")),
    "FullyBooted": lambda m: FullyBooted(m),
    "Shutdown": lambda m: Shutdown(m, m.get("Restart")),
    "CoreShowChannel": lambda m: CoreShowChannel(
        m,
        *_chan(m),
        m["ChannelStateDesc"],
        m["CallerIDNum"],
        m["CallerIDName"],
        m["Context"],
        m["Exten"],
        m["Application"],
        m.get("BridgeId") or "",
    ),
}


def typed(message: Message) -> Event:
    """The typed event for an AMI event message; MissingField if a needed header is absent."""
    name = message.headers.get("Event")
    if name is None:
        raise ValueError(f"not an event: {message.describe()}")
    builder = _BUILDERS.get(name)
    if builder is None:
        return GenericEvent(message, name)
    return builder(message)


TYPED_EVENTS = frozenset(_BUILDERS)
