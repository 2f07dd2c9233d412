"""Hold a simulated AMI stream against a real capture: what the controller reads must agree.

Both streams are reduced the same way (the reasons are in sim/FIDELITY.md):
- only the events the controller reads (``pbx.tracker.TRACKED``, the CoreShowChannels
  answer) plus the shapes the simulator promises besides (FullyBooted, MixMonitorStart/Stop,
  a global VarSet), and the responses to actions;
- no events about the ``;2`` half of a Local channel: the capture rig plays the citizen and
  the seat phones with Local channels; a PJSIP call has no such half;
- no DialBegin/DialEnd without a Channel, no response or OriginateResponse to the rig's own
  Originates: that is how the rig placed a caller, not part of the call;
- UserEvents only of names both streams emit: they are the dialplan's output, and the
  capture ran its own test dialplan (conf/), the simulator ours (asterisk_conf/); of those
  the fields both carry are compared;
- the caller ID on a Newchannel only for the caller's own channel, with a NewCallerid that
  follows folded into it (see ``reduce``).
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
    "Newchannel": ("Channel", "Uniqueid", "Linkedid", "ChannelStateDesc", "CallerIDNum", "CallerIDName"),
    "NewCallerid": ("Channel", "CallerIDNum", "CallerIDName"),
    "Hangup": ("Channel", "Uniqueid", "Linkedid", "Cause"),
    "DialBegin": ("Channel", "DestChannel", "DestUniqueid", "DestLinkedid", "DialString"),
    "DialEnd": ("Channel", "DestChannel", "DialStatus"),
    "QueueCallerJoin": ("Channel", "Queue", "Position"),
    "MixMonitorStart": ("Channel", "Uniqueid"),
    "MixMonitorStop": ("Channel", "Uniqueid"),
    "VarSet": ("Channel", "Uniqueid", "Variable", "Value"),
    "CoreShowChannel": ("Channel", "Uniqueid", "Linkedid", "Application", "CallerIDNum"),
    "CoreShowChannelsComplete": ("ListItems",),
    "ConfbridgeJoin": ("Channel", "Conference"),
    "ConfbridgeEnd": ("Conference",),
    "BlindTransfer": ("TransfererChannel", "TransfereeChannel", "Context", "Extension"),
    "AttendedTransfer": ("Result", "TransfereeChannel", "TransferTargetChannel"),
    "UserEvent": ("Channel", "UserEvent"),
    "FullyBooted": (),
}
_CHANNEL_KEYS = {"Channel", "DestChannel", "TransfererChannel", "TransfereeChannel", "TransferTargetChannel"}
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
        if headers.get("Action", "").lower() == "originate" and "ActionID" in headers:
            ids.add(headers["ActionID"])
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
    labels: dict[str, str] = {}
    born: dict[str, int] = {}  # channel -> index of its Newchannel item
    out = Reduced([])
    aliases = aliases or {}

    def label(key: str, value: str) -> str:
        if value in ("none", "<unknown>", ""):
            return value
        kind = "c" if key in _CHANNEL_KEYS else "u"
        pattern = _CHANNEL_NAME if kind == "c" else _ID
        if not pattern.match(value):
            out.problems.append(f"{key} {value!r} does not look like Asterisk's")
        if value not in labels:
            labels[value] = f"{kind}{sum(1 for v in labels.values() if v[0] == kind) + 1}"
        return labels[value]

    def text(value: str) -> str:
        for raw, lab in sorted(labels.items(), key=lambda kv: -len(kv[0])):
            value = value.replace(raw, lab)
        return value

    for m in msgs:
        if m.action_id in skip_ids:
            continue
        if "Response" in m:
            out.items.append(("Response", m.action_id or "", m["Response"], text(m.get("Message") or "")))
            continue
        name = m.get("Event")
        if name not in READ:
            continue
        if (m.get("Channel") or "").endswith(";2"):
            continue
        if name in ("DialBegin", "DialEnd") and "Channel" not in m:
            continue
        if name == "VarSet" and m.get("Channel") != "none":
            continue
        if name == "UserEvent" and m.get("UserEvent") not in user_events:
            continue
        root = m.get("Uniqueid") == m.get("Linkedid")
        if name == "NewCallerid":
            # Caller ID known at creation or set just after is the same to the controller,
            # which reads it for the caller's own channel only (a Local channel placed by
            # Originate gets it after its Newchannel; a PJSIP call has it in the INVITE).
            created = born.get(m.get("Channel") or "")
            if root and created is not None:
                out.items[created] = _with_caller_id(out.items[created], m)
            continue
        item: list[str] = [name]
        for key in FIELDS.get(name, ("Channel",)):
            value = m.get(key)
            if name == "Newchannel" and key.startswith("CallerID") and not root:
                continue  # the tracker reads the caller ID of the caller's channel only
            if value is None:
                item.append(f"{key}=<absent>")
            elif key in _CHANNEL_KEYS or key in _ID_KEYS:
                item.append(f"{key}={label(key, value)}")
            elif key == "DialString":
                item.append(f"{key}={aliases.get(value, value)}")
            else:
                item.append(f"{key}={aliases.get(value, value)}")
        if name == "UserEvent":
            wanted = (user_fields or {}).get(m["UserEvent"], set())
            for key in sorted(wanted):
                value = m.get(key)
                if value is None:
                    item.append(f"{key}=<absent>")
                elif key in _ID_KEYS:
                    item.append(f"{key}={label(key, value)}")
                elif key in _TIME_KEYS:
                    item.append(f"{key}=<n>" if value.isdigit() else f"{key}={value}")
                else:
                    item.append(f"{key}={aliases.get(value, value)}")
        if name == "Newchannel":
            born[m.get("Channel") or ""] = len(out.items)
        out.items.append(tuple(item))
    return out


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
        reduce(ours, user_events=names, skip_ids=set(), user_fields=fields),
    )
