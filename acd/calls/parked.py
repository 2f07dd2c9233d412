"""Callers parked in [acd-wait] that no controller queued.

A caller reaches [acd-wait] right after the IVR's HotlineRoute UserEvent. When no controller
was listening at that moment (a link cut, a restart, a standby taking over), the event is gone
and the ACD never hears of the caller: music plays until the dialplan's fallback Queue() takes
over after FALLBACK_AFTER seconds, or the caller gives up unrecorded (found by `make chaos`).
After every resync the controller lists the channels; this module reads back, from the
channels themselves, what the lost event carried: the dialplan set SKILL, HL_PATH, CITY and
WAIT_START (epoch seconds of the first entry) on them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from acd.queue.types import Skill
from ivr.events import RouteRequest
from pbx import actions as act
from pbx.link import AmiLink

log = logging.getLogger(__name__)

WAIT_CONTEXT = "acd-wait"


@dataclass(frozen=True)
class Parked:
    """A caller to queue: the request the lost HotlineRoute carried, the caller's channel and
    when they began to wait (ms since the epoch; the queue orders by it)."""

    request: RouteRequest
    channel: str
    since_ms: int


def candidates(channels: list[dict[str, str]]) -> list[dict[str, str]]:
    """Callers' own channels waiting in [acd-wait]: not bridged to anyone and not already in
    the fallback's Queue() (the dialplan took those over; the controller only records them)."""
    return [
        c
        for c in channels
        if c.get("Context") == WAIT_CONTEXT
        and not c.get("BridgeId")
        and c.get("Application") != "Queue"
        and c.get("Uniqueid")
        and c.get("Uniqueid") == c.get("Linkedid")
    ]


async def read_back(
    link: AmiLink, channel: dict[str, str], city: str, now_ms: int
) -> Parked | None:
    """The caller's route request from the channel's variables; None when the channel is
    gone, belongs to another city or carries no skill this ACD knows."""
    name = channel["Channel"]
    values: dict[str, str] = {}
    for variable in ("CITY", "SKILL", "HL_PATH", "WAIT_START"):
        try:
            answer = await link.send(act.getvar(variable, name))
        except act.AmiError:
            return None  # hung up meanwhile
        values[variable] = answer.get("Value") or ""
    if values["CITY"] != city:
        return None
    if values["SKILL"] not in set(Skill):
        log.warning("acd %s: parked %s has no skill (%r); left to the fallback",
                    city, name, values["SKILL"])  # fmt: skip
        return None
    try:
        began = int(values["WAIT_START"]) * 1000  # the PBX's clock
    except ValueError:
        since_ms = now_ms
    else:
        known = link.skew.offset_ms is not None  # put on ours as its events are (pbx.skew)
        since_ms = link.skew.local_ms(began, now_ms) if known else min(now_ms, began)
    request = RouteRequest(
        call_id=channel["Uniqueid"],
        city=city,
        skill=values["SKILL"],
        caller_num=channel.get("CallerIDNum", "").replace("<unknown>", ""),
        path=values["HL_PATH"],
        priority=0,  # the dialplan's HotlineRoute always says 0
    )
    return Parked(request, name, since_ms)
