"""Hold a simulated AMI stream against a real capture: what the controller reads must agree.

Both streams are reduced the same way (the reasons are in sim/FIDELITY.md):
- only the events the controller reads (``pbx.tracker.TRACKED``, the CoreShowChannels
  answer) plus the shapes the simulator promises besides (FullyBooted, MixMonitorStart/Stop,
  a global VarSet), and the responses to actions;
- no events about the ``;2`` half of a Local channel: the capture rig plays the citizen and
  the seat phones with Local channels; a PJSIP call has no such half;
- no DialBegin/DialEnd without a Channel, no response or OriginateResponse to the rig's
  Originates of a citizen (``Local/<behaviour>@sim-callers*``): that is how the rig placed a
  caller, not part of the call (other Originates, callbacks and departments, are compared);
- UserEvents only of names both streams emit: they are the dialplan's output, and the
  capture ran its own test dialplan (conf/), the simulator ours (asterisk_conf/); of those
  the fields both carry are compared;
- the caller ID on a Newchannel only for the caller's own channel, with a NewCallerid that
  follows folded into it (see ``reduce``).
- what Asterisk sends in either order is put in one: a run of Hangups or of ConfbridgeJoins
  is sorted, a successful OriginateResponse goes right after its channel's Newchannel, a
  ConfbridgeLeave just before its channel's Hangup (the captures show both orders).
Channels, Uniqueids and Linkedids become labels in order of first appearance (c1, u1, ...),
so the structure (which leg shares whose Linkedid) is compared and the numbers are not; a
channel name must still look like one (``<tech>/<x>-<8 hex>[;1]``). Times (HoldTime,
Waited, ...) compare as "a whole number".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pbx.framing import AmiFramer
from pbx.message import Message
from pbx.tracker import TRACKED

READ = TRACKED | {
    "CoreShowChannel",
    "CoreShowChannelsComplete",
    "FullyBooted",
    "MixMonitorStart",
    "MixMonitorStop",
    "VarSet",  # a global one only (Channel: none); channel VarSets are not read
}
# Fields compared per event, beyond the event name. Channel-like ones become labels.
FIELDS: dict[str, tuple[str, ...]] = {
    "Newchannel": (
        "Channel",
        "Uniqueid",
        "Linkedid",
        "ChannelStateDesc",
        "CallerIDNum",
        "CallerIDName",
    ),
    "NewCallerid": ("Channel", "CallerIDNum", "CallerIDName"),
    "Hangup": ("Channel", "Uniqueid", "Linkedid", "Cause"),
    "DialBegin": ("Channel", "DestChannel", "DestUniqueid", "DestLinkedid", "DialString"),
    "DialEnd": ("Channel", "DestChannel", "DialStatus"),
    "QueueCallerJoin": ("Channel", "Queue", "Position"),
    "MixMonitorStart": ("Channel", "Uniqueid"),
    "MixMonitorStop": ("Channel", "Uniqueid"),
    "VarSet": ("Channel", "Uniqueid", "Variable", "Value"),
    "CoreShowChannel": ("Channel", "Uniqueid", "Linkedid", "Application", "CallerIDNum"),
    "CoreShowChannelsComplete": (),  # ListItems counts the rig's ;2 halves; nobody reads it
    "ConfbridgeJoin": ("Channel", "Conference"),
    "ConfbridgeEnd": ("Conference",),
    "BlindTransfer": ("TransfererChannel", "TransfereeChannel", "Context", "Extension"),
    "AttendedTransfer": ("Result", "TransfereeChannel", "TransferTargetChannel"),
    "UserEvent": ("Channel", "UserEvent"),
    "FullyBooted": (),
}
_CHANNEL_KEYS = {
    "Channel",
    "DestChannel",
    "TransfererChannel",
    "TransfereeChannel",
    "TransferTargetChannel",
}
_ID_KEYS = {"Uniqueid", "Linkedid", "DestUniqueid", "DestLinkedid", "CallId"}
_TIME_KEYS = {"Waited", "HoldTime", "TalkTime", "RingTime"}
_CHANNEL_NAME = re.compile(r"^[A-Za-z]+/[^\s]+-[0-9a-f]{8}(;[12])?$")
_ID = re.compile(r"^([\w.-]+-)?\d+\.\d+$")


@dataclass
class Reduced:
    items: list[tuple[str, ...]]
    problems: list[str] = field(default_factory=list)  # a name or id of the wrong shape


def messages(data: bytes) -> list[Message]:
    return AmiFramer().feed(data)


def user_event_names(msgs: Iterable[Message]) -> set[str]:
    return {m["UserEvent"] for m in msgs if m.get("Event") == "UserEvent" and "UserEvent" in m}


def _originate_ids(sent: bytes) -> set[str]:
    ids = set()
    for block in sent.decode("utf-8").replace("\r\n", "\n").split("\n\n"):
        headers = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        rig_caller = re.match(r"Local/[^@]+@sim-callers\d*$", headers.get("Channel", ""))
        if headers.get("Action", "").lower() == "originate" and rig_caller:
            ids.add(headers.get("ActionID", ""))
    return ids


def reduce(
    msgs: list[Message],
    *,
    user_events: set[str],
    skip_ids: set[str],
    user_fields: dict[str, set[str]] | None = None,
    aliases: dict[str, str] | None = None,
) -> Reduced:
    """The comparable form of one stream (see the module doc)."""
    r = _Reducer(user_events, user_fields or {}, aliases or {})
    for m in msgs:
        if m.action_id not in skip_ids:
            r.add(m)
    r.out.items = _runs_unordered(_runs_unordered(r.out.items, "Hangup"), "ConfbridgeJoin")
    return r.out


def _runs_unordered(items: list[tuple[str, ...]], name: str) -> list[tuple[str, ...]]:
    """Sort each run of consecutive events ``name``: Asterisk sends the legs' Hangups of one
    instant in either order (the agent's first in queue_answered, the caller's in
    agent_ring_noanswer, both after the agent hung up), and the two ConfbridgeJoins of one
    Redirect too (caller first in three_way, the agent in three_way_dept_noanswer)."""
    out: list[tuple[str, ...]] = []
    run: list[tuple[str, ...]] = []
    for item in [*items, ("",)]:
        if item[0] == name:
            run.append(item)
            continue
        out += sorted(run)
        run = []
        if item != ("",):
            out.append(item)
    return out


class _Reducer:
    def __init__(
        self, user_events: set[str], user_fields: dict[str, set[str]], aliases: dict[str, str]
    ) -> None:
        self.user_events = user_events
        self.user_fields = user_fields
        self.aliases = aliases
        self.labels: dict[str, str] = {}
        self.born: dict[str, int] = {}  # channel -> index of its Newchannel item
        self.out = Reduced([])

    def label(self, key: str, value: str) -> str:
        if value in ("none", "<unknown>", ""):
            return value
        kind = "c" if key in _CHANNEL_KEYS else "u"
        pattern = _CHANNEL_NAME if kind == "c" else _ID
        if not pattern.match(value):
            self.out.problems.append(f"{key} {value!r} does not look like Asterisk's")
        if value not in self.labels:
            n = sum(1 for v in self.labels.values() if v[0] == kind) + 1
            self.labels[value] = f"{kind}{n}"
        return self.labels[value]

    def text(self, value: str) -> str:
        for raw, lab in sorted(self.labels.items(), key=lambda kv: -len(kv[0])):
            value = value.replace(raw, lab)
        return value

    def wanted(self, m: Message) -> bool:
        name = m.get("Event")
        if name not in READ or (m.get("Channel") or "").endswith(";2"):
            return False
        if name in ("DialBegin", "DialEnd") and "Channel" not in m:
            return False
        if name == "VarSet" and m.get("Channel") != "none":
            return False
        return name != "UserEvent" or m.get("UserEvent") in self.user_events

    def field(self, key: str, value: str | None) -> str:
        if value is None:
            return f"{key}=<absent>"
        if key in _CHANNEL_KEYS or key in _ID_KEYS:
            return f"{key}={self.label(key, value)}"
        if key in _TIME_KEYS and value.isdigit():
            return f"{key}=<n>"
        return f"{key}={self.aliases.get(value, value)}"

    def insert(self, at: int, item: tuple[str, ...]) -> None:
        self.out.items.insert(at, item)
        self.born = {c: i + 1 if i >= at else i for c, i in self.born.items()}

    def insert_after_birth(self, channel: str, item: tuple[str, ...]) -> bool:
        at = self.born.get(channel)
        if at is None:
            return False
        self.insert(at + 1, item)
        return True

    def add(self, m: Message) -> None:
        if "Response" in m:
            message = self.text(m.get("Message") or "")
            reply = ("Response", m.action_id or "", m["Response"], message)
            # A successful OriginateResponse is sent by the originating thread while the new
            # channel already runs its dialplan: it lands before or after the first events
            # (callback_busy_noanswer shows both). Its place: right after the Newchannel.
            answered = m.get("Event") == "OriginateResponse" and m["Response"] == "Success"
            if not (answered and self.insert_after_birth(m.get("Channel") or "", reply)):
                self.out.items.append(reply)
            return
        if not self.wanted(m):
            return
        name = m["Event"]
        root = m.get("Uniqueid") == m.get("Linkedid")
        if name == "NewCallerid":
            # Caller ID known at creation or set just after is the same to the controller,
            # which reads it for the caller's own channel only (a Local channel placed by
            # Originate gets it after its Newchannel; a PJSIP call has it in the INVITE).
            created = self.born.get(m.get("Channel") or "")
            if root and created is not None:
                self.out.items[created] = _with_caller_id(self.out.items[created], m)
            return
        keys = list(FIELDS.get(name, ("Channel",)))
        if name == "Newchannel" and not root:
            keys = [k for k in keys if not k.startswith("CallerID")]  # read for the caller only
        if name == "UserEvent":
            keys += sorted(self.user_fields.get(m["UserEvent"], set()))
        if name == "Newchannel":
            self.born[m.get("Channel") or ""] = len(self.out.items)
        item = (name, *(self.field(k, m.get(k)) for k in keys))
        if name == "ConfbridgeLeave":
            # ConfBridge posts the leave from the bridge thread, racing the channel's own
            # Hangup (three_way: before it; three_way_dept_noanswer: after). Its place:
            # just before that Hangup.
            hung = ("Hangup", item[1])
            for i in range(len(self.out.items) - 1, -1, -1):
                if self.out.items[i][:2] == hung:
                    self.insert(i, item)
                    return
        self.out.items.append(item)


def _with_caller_id(item: tuple[str, ...], m: Message) -> tuple[str, ...]:
    parts = []
    for part in item:
        key = part.split("=", 1)[0]
        parts.append(f"{key}={m.get(key)}" if key in ("CallerIDNum", "CallerIDName") else part)
    return tuple(parts)


_SNAPSHOT = {
    "Event", "Privilege", "Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum",
    "CallerIDName", "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode",
    "Context", "Exten", "Priority", "Uniqueid", "Linkedid", "UserEvent",
}  # fmt: skip


def dialplan_fields(msgs: Iterable[Message]) -> dict[str, set[str]]:
    """Per UserEvent name, the dialplan's own fields (not the channel snapshot)."""
    out: dict[str, set[str]] = {}
    for m in msgs:
        if m.get("Event") == "UserEvent" and "UserEvent" in m:
            out.setdefault(m["UserEvent"], set()).update(k for k in m if k not in _SNAPSHOT)
    return out


@dataclass
class Comparison:
    capture: Reduced
    sim: Reduced

    @property
    def equal(self) -> bool:
        return self.capture.items == self.sim.items and not self.sim.problems

    def diff(self) -> str:
        import difflib

        a = [" ".join(i) for i in self.capture.items]
        b = [" ".join(i) for i in self.sim.items]
        lines = list(difflib.unified_diff(a, b, "capture", "sim", lineterm="", n=2))
        return "\n".join(lines + self.sim.problems)


def compare(
    capture_ami: bytes,
    capture_actions: bytes,
    sim_ami: bytes,
    *,
    not_simulated: Iterable[str] = (),
    aliases: dict[str, str] | None = None,
) -> Comparison:
    real = messages(capture_ami)
    ours = messages(sim_ami)
    names = user_event_names(real) & user_event_names(ours)
    theirs, mine = dialplan_fields(real), dialplan_fields(ours)
    fields = {n: theirs.get(n, set()) & mine.get(n, set()) for n in names}
    skip = _originate_ids(capture_actions) | set(not_simulated)
    return Comparison(
        reduce(real, user_events=names, skip_ids=skip, user_fields=fields, aliases=aliases),
        reduce(ours, user_events=names, skip_ids=skip, user_fields=fields),
    )


def missing_headers(
    capture_ami: bytes, sim_ami: bytes, capture_actions: bytes = b""
) -> dict[str, set[str]]:
    """Per event name both streams carry, the headers Asterisk sent and the simulator did not.

    UserEvent (its fields are the dialplan's) and VarSet (the capture's are mostly channel
    variables, the simulator's compared ones global) are left out, and so is the
    OriginateResponse of the rig's Originate of a caller (``capture_actions`` names them).
    """
    real: dict[str, set[str]] = {}
    ours: dict[str, set[str]] = {}
    rig = _originate_ids(capture_actions)
    for data, keys in ((capture_ami, real), (sim_ami, ours)):
        for m in messages(data):
            name = m.get("Event")
            if m.action_id in rig:
                continue
            if name is not None and name not in ("UserEvent", "VarSet"):
                keys.setdefault(name, set()).update(m.headers)
    return {n: real[n] - ours[n] for n in real.keys() & ours.keys() if real[n] - ours[n]}
