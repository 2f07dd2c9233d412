"""app_queue's Queue() as the dialplan's fallback runs it, with the events of the captures.

Only what [acd-wait]'s fallback needs (acd_fallback, queue_abandon, agent_ring_noanswer):
one caller at a time per member, linear strategy (members rung in order), a ring timeout per
member, an optional queue timeout, and paused members (AMI QueuePause) left out. Event
shapes follow the real captures: QueueCallerJoin, AgentCalled, DialBegin, then either
DialEnd ANSWER + QueueCallerLeave + AgentConnect + a bridge + AgentComplete, or
AgentRingNoAnswer (RingTime in milliseconds) + DialEnd NOANSWER and CANCEL; a caller who
leaves gets QueueCallerAbandon + QueueCallerLeave (a timeout too: only QUEUESTATUS tells
them apart).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.engine import SeatBehaviour, SimPbx
    from sim.kernel import Channel


# How often a caller whose queue has only paused members looks again (app_queue re-checks on
# every member state change; polling keeps the simulator simple).
_IDLE_CHECK_S = 0.1


@dataclass(frozen=True)
class QueueMember:
    name: str  # MemberName, e.g. 城区坐席2105
    interface: str  # Local/2105@agents2 or PJSIP/2105
    behaviour: SeatBehaviour
    ring_s: float = 15.0  # the queue's member ring timeout
    retry_s: float = 0.0  # app_queue's pause after a member did not answer


def _member_fields(member: QueueMember, queue: str) -> list[tuple[str, str]]:
    return [("Queue", queue), ("MemberName", member.name), ("Interface", member.interface)]


async def run_queue(
    pbx: SimPbx, chan: Channel, queue: str, members: list[QueueMember], timeout_s: float | None
) -> str:
    """Queue() until answered and the call ends, the caller leaves, or the queue times out.

    Returns QUEUESTATUS-like text: "ANSWERED" (the call ended after talking), "TIMEOUT".
    A caller who hangs up raises CancelledError through here, after the abandon events.
    """
    loop = asyncio.get_running_loop()
    joined = loop.time()
    chan.variables["QUEUEPOSITION"] = "1"
    chan.app, chan.app_data = "Queue", queue
    pbx.emit(
        "QueueCallerJoin", "agent,all", chan, ("Queue", queue), ("Position", "1"), ("Count", "1")
    )

    def leave(abandon: bool) -> None:
        waited = str(int(loop.time() - joined))
        if abandon:
            pbx.emit(
                "QueueCallerAbandon",
                "agent,all",
                chan,
                ("Queue", queue),
                ("Position", "1"),
                ("OriginalPosition", "1"),
                ("HoldTime", waited),
            )
        pbx.emit(
            "QueueCallerLeave",
            "agent,all",
            chan,
            ("Queue", queue),
            ("Count", "0"),
            ("Position", "1"),
        )

    index = 0
    while True:
        if timeout_s is not None and loop.time() - joined >= timeout_s:
            leave(True)
            return "TIMEOUT"
        # app_queue never rings a paused member; with none to ring the caller just waits
        # (joinempty=yes, leavewhenempty=no), and a member unpaused meanwhile is rung.
        free = [m for m in members if not pbx.member_paused(queue, m.interface)]
        if not free:
            try:
                await asyncio.sleep(_IDLE_CHECK_S if members else (timeout_s or 3600))
            except asyncio.CancelledError:
                leave(True)
                raise
            continue
        member = free[index % len(free)]
        index += 1
        if await _ring(pbx, chan, queue, member, joined, leave):
            return "ANSWERED"


async def _ring(
    pbx: SimPbx,
    chan: Channel,
    queue: str,
    member: QueueMember,
    joined: float,
    leave: Callable[[bool], None],
) -> bool:
    loop = asyncio.get_running_loop()
    seat = pbx.dial_leg(chan, member.interface)
    seat.app = "AppQueue"
    pbx.emit(
        "AgentCalled",
        "agent,all",
        chan,
        *_member_fields(member, queue),
        *pbx.snapshot(seat, "Dest"),
    )
    pbx.emit(
        "DialBegin",
        "call,all",
        chan,
        *pbx.snapshot(seat, "Dest"),
        ("DialString", member.interface),  # app_queue dials the interface, tech included
    )
    pbx.set_state(seat, 5)
    rang = loop.time()
    answer = member.behaviour.answer_after_s
    if answer is None or answer >= member.ring_s:
        try:
            await asyncio.sleep(member.ring_s)
        except asyncio.CancelledError:
            _cancel(pbx, chan, seat, leave)
            raise
        pbx.emit(
            "AgentRingNoAnswer",
            "agent,all",
            chan,
            *_member_fields(member, queue),
            *pbx.snapshot(seat, "Dest"),
            ("RingTime", str(int(member.ring_s * 1000))),
        )
        # app_queue ends the ring with NOANSWER, then cancels the member's dial (captures).
        for status in ("NOANSWER", "CANCEL"):
            _dial_end(pbx, chan, seat, status)
        pbx.hangup_channel(seat, 0, "Unknown")
        try:
            await asyncio.sleep(member.retry_s)
        except asyncio.CancelledError:
            leave(True)
            raise
        return False
    try:
        await asyncio.sleep(answer)
    except asyncio.CancelledError:
        _cancel(pbx, chan, seat, leave)
        raise
    pbx.set_state(seat, 6)
    pbx.emit("DialEnd", "call,all", chan, *pbx.snapshot(seat, "Dest"), ("DialStatus", "ANSWER"))
    leave(False)
    hold = str(int(loop.time() - joined))
    pbx.emit(
        "AgentConnect",
        "agent,all",
        chan,
        *_member_fields(member, queue),
        ("HoldTime", hold),
        ("RingTime", str(int(loop.time() - rang))),
        *pbx.snapshot(seat, "Dest"),
    )
    talk_start = loop.time()
    reason = "agent"
    bridge = pbx.bridge(chan, seat)
    try:
        await asyncio.sleep(member.behaviour.talk_s)
    except asyncio.CancelledError:
        reason = "transfer" if chan.variables.pop("_transfer", None) else "caller"
        raise
    finally:
        pbx.emit(
            "AgentComplete",
            "agent,all",
            chan,
            *_member_fields(member, queue),
            ("HoldTime", hold),
            ("TalkTime", str(int(loop.time() - talk_start))),
            ("Reason", reason),
            *pbx.snapshot(seat, "Dest"),
        )
        pbx.unbridge(bridge, chan, seat)
    return True


def _dial_end(pbx: SimPbx, chan: Channel, seat: Channel, status: str) -> None:
    pbx.emit("DialEnd", "call,all", chan, *pbx.snapshot(seat, "Dest"), ("DialStatus", status))


def _cancel(pbx: SimPbx, chan: Channel, seat: Channel, leave: Callable[[bool], None]) -> None:
    # An abandon while a member rings: DialEnd CANCEL twice, the member leg goes with cause 0.
    _dial_end(pbx, chan, seat, "CANCEL")
    _dial_end(pbx, chan, seat, "CANCEL")
    pbx.hangup_channel(seat, 0, "Unknown")
    leave(True)
