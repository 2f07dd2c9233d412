"""三方通话 and 转接: a seat brings a department into its call, or hands the call over.

Three-way: caller and seat are moved together into a ConfBridge room ([conference] room<id>,
one Redirect with ExtraChannel), then the department is originated into the room through the
PSTN trunk. When it answers the seat may leave (warm hand-over: its channel is hung up, the
ACD puts the seat in wrap-up) or stay; when it does not, the caller is still in the room with
the seat. Blind transfer: BlindTransfer of the seat's channel to [transfer] <number>; the seat
is free at once. Supervisor monitoring: ChanSpy originated to the supervisor's phone
([supervisor] listen|whisper|barge, SPY_TARGET = the seat's endpoint). Every step is written
to ``call_transfers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.calls.dialable import OutboundPolicy
from acd.calls.tables import CallTransfer
from acd.queue import notify
from acd.queue.service import Acd
from acd.queue.types import SeatState
from pbx import actions as act
from pbx import callevents as ce
from pbx.link import AmiLink
from store.errors import Invalid, InvalidState, NotFound
from store.tasks import reraise_if_cancelled
from tickets.service import department_by_id, department_numbers

log = logging.getLogger(__name__)

SPY_MODES = ("listen", "whisper", "barge")
_SUPERVISOR = re.compile(r"^[A-Za-z0-9]{1,32}$")
DEPT_RING_S = 30  # how long a department rings before the caller is back with the seat

# The seat left a call that goes on without it: the ACD's part of the call ends now.
HandedOver = Callable[[str], Awaitable[None]]


class ConferenceInProgress(InvalidState):
    """A second three-way request on a call whose conference is still going (409)."""

    code = "conference_in_progress"


@dataclass(frozen=True)
class Target:
    number: str  # digits, as dialled through the trunk
    department_id: int | None
    name: str


def room_of(call_id: str) -> str:
    """The ConfBridge room of a call: ``room`` + the call id's letters and digits."""
    return "room" + re.sub(r"[^A-Za-z0-9]", "", call_id)


def on_duty(hours: str, tz: str, at: datetime) -> bool:
    """``08:30-17:30`` in the city's time; ``00:00-24:00`` is round the clock."""
    try:
        start_s, end_s = hours.split("-", 1)
        start = time.fromisoformat(start_s)
        end = time.max if end_s.strip() == "24:00" else time.fromisoformat(end_s)
    except ValueError:
        return True  # an unreadable entry does not block a transfer; the directory is checked
    local = at.astimezone(ZoneInfo(tz)).time()
    return start <= local <= end if start <= end else local >= start or local <= end


class Transfers:
    def __init__(
        self,
        city: str,
        link: AmiLink,
        acd: Acd,
        sessions: async_sessionmaker[AsyncSession],
        handed_over: HandedOver,
        tz: str = "Asia/Shanghai",
        clock: Callable[[], int] | None = None,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self.city = city
        self.outbound = outbound or OutboundPolicy()  # which typed numbers may be dialled
        self.link = link
        self.acd = acd
        self.sessions = sessions
        self.handed_over = handed_over
        self.tz = tz
        self.clock = clock or acd.clock
        self._seat_channel: dict[str, str] = {}  # call id -> the seat's channel in that call
        self._pending: dict[str, int] = {}  # idempotency key -> transfer id (department legs)
        self._blind: dict[str, int] = {}  # call id -> blind transfer id, until it is settled
        self._events: asyncio.Queue[ce.CallEvent] = asyncio.Queue()
        self.dept_ring_s = DEPT_RING_S

    # --- events ---------------------------------------------------------------------------
    def on_event(self, event: ce.CallEvent) -> None:
        if isinstance(
            event,
            (
                ce.SeatAnswered,
                ce.SeatNotAnswered,
                ce.OriginateResult,
                ce.CallEnded,
                ce.ConferenceLeft,
            ),
        ):
            self._events.put_nowait(event)

    async def run(self, tick_s: float = 0.5) -> None:
        while True:
            reraise_if_cancelled()
            event = await self._events.get()
            try:
                await self.handle(event)
            except Exception:  # one bad event must not stop the transfers
                reraise_if_cancelled()
                log.exception("transfers %s: handling %r failed", self.city, event)

    async def handle(self, event: ce.CallEvent) -> None:
        if isinstance(event, ce.SeatAnswered):
            if event.call_id in self._blind:
                await self._settle_blind(event.call_id, "connected")
            else:
                self._seat_channel[event.call_id] = event.seat_channel
        elif isinstance(event, ce.SeatNotAnswered) and event.call_id in self._blind:
            status = event.dial_status.upper()
            await self._settle_blind(event.call_id, "busy" if status == "BUSY" else "noanswer")
        elif isinstance(event, ce.OriginateResult):
            await self._department_leg(event)
        elif isinstance(event, ce.ConferenceLeft):
            await self._left_room(event)
        elif isinstance(event, ce.CallEnded):
            self._seat_channel.pop(event.call_id, None)
            if event.call_id in self._blind:
                await self._settle_blind(event.call_id, "failed")
            await self._ended(event.call_id)

    async def _left_room(self, event: ce.ConferenceLeft) -> None:
        """The seat's phone hung up in the conference while the caller stays (with the
        department): the seat is free now, not when the caller leaves (issue 13)."""
        if self._seat_channel.get(event.call_id) != event.channel:
            return
        call = self.link.pipeline.tracker.calls.get(event.call_id)
        if call is None or call.caller_gone:
            return  # the room ended with the caller: the ACD ends the call as usual
        self._seat_channel.pop(event.call_id, None)
        async with self.sessions() as session:
            row = await session.scalar(
                select(CallTransfer)
                .where(
                    CallTransfer.call_id == event.call_id,
                    CallTransfer.kind == "conference",
                    CallTransfer.seat_left_at.is_(None),
                )
                .order_by(CallTransfer.id.desc())
            )
        if row is not None:
            await self._update(row.id, seat_left_at=self._now())
        log.info("transfers %s: call %s: the seat hung up in the room", self.city, event.call_id)
        await self.handed_over(event.call_id)

    async def _department_leg(self, event: ce.OriginateResult) -> None:
        key = event.action_id.rpartition("orig-")[2]
        transfer_id = self._pending.pop(key, None)
        if transfer_id is None:
            return
        now = self._now()
        if event.response == "Success":
            row = await self._update(transfer_id, result="connected", answered_at=now)
            if row is not None:
                await self._tell(row)
            if row is not None and not row.stay:
                try:
                    await self._seat_leaves(row)
                except NotFound as exc:
                    log.warning(
                        "transfers %s: call %s: seat stays: %s", self.city, row.call_id, exc
                    )
            return
        result = {3: "noanswer", 5: "busy"}.get(event.reason, "failed")
        row = await self._update(transfer_id, result=result, ended_at=now)
        log.info("transfers %s: department leg %s: %s", self.city, key, result)
        if row is not None:  # the caller is back with the seat: its page says why
            await self._tell(row)

    async def _tell(self, row: CallTransfer) -> None:
        """The seat's page learns how the department leg ended (its request was answered
        when the department only started to ring)."""
        await notify.seat_event(
            self.acd.redis,
            row.seat_id,
            "transfer",
            call_id=row.call_id,
            city=self.city,
            transfer_id=row.id,
            transfer_kind=row.kind,
            result=row.result,
        )

    async def _settle_blind(self, call_id: str, result: str) -> None:
        transfer_id = self._blind.pop(call_id)
        values: dict[str, object] = {"result": result}
        if result == "connected":
            values["answered_at"] = self._now()
        else:
            values["ended_at"] = self._now()
        await self._update(transfer_id, **values)

    async def _ended(self, call_id: str) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(CallTransfer)
                .where(CallTransfer.call_id == call_id, CallTransfer.ended_at.is_(None))
                .values(ended_at=self._now())
            )

    # --- requests -------------------------------------------------------------------------
    async def conference(
        self, call_id: str, seat_id: str, target: Target, stay: bool
    ) -> CallTransfer:
        caller, seat_chan = await self._call_of(call_id, seat_id)
        async with self.sessions() as session:
            going = await session.scalar(
                select(CallTransfer.id).where(
                    CallTransfer.call_id == call_id,
                    CallTransfer.kind == "conference",
                    CallTransfer.ended_at.is_(None),
                )
            )
        if going is not None:
            # A second Redirect would pull both parties out of the room and a second
            # department leg would ring: one conference per call at a time.
            raise ConferenceInProgress(f"通话 {call_id} 已在三方通话中，不能再次发起")
        room = room_of(call_id)
        row = await self._record(call_id, "conference", target, seat_id, room, stay)
        await self.link.send(act.redirect(caller, "conference", room, extra_channel=seat_chan))
        action = act.originate(
            f"PJSIP/{target.number}@pstn",
            context="conference",
            exten=room,
            caller_id='"12345热线" <12345>',
            timeout_ms=int(self.dept_ring_s * 1000),
            # [conference] lets it in as end_marked: it goes when caller and seat have gone
            variables={"CITY": self.city, "HL_CALLID": call_id, "HL_CONF_ROLE": "department"},
            idempotency_key=row.key,
        )
        self._pending[row.key] = row.id
        try:
            await self.link.send(action)
        except act.AmiError as exc:
            self._pending.pop(row.key, None)
            await self._update(row.id, result="failed", ended_at=self._now())
            raise InvalidState(f"部门电话未能呼出: {exc.message}") from exc
        log.info(
            "transfers %s: call %s conference %s with %s", self.city, call_id, room, target.name
        )
        return row

    async def leave(self, call_id: str, seat_id: str) -> CallTransfer:
        """The seat leaves the conference; caller and department talk on."""
        async with self.sessions() as session:
            row = await session.scalar(
                select(CallTransfer)
                .where(
                    CallTransfer.call_id == call_id,
                    CallTransfer.kind == "conference",
                    CallTransfer.seat_id == seat_id,
                    CallTransfer.seat_left_at.is_(None),
                )
                .order_by(CallTransfer.id.desc())
            )
        if row is None:
            raise NotFound(f"no conference of seat {seat_id} in call {call_id}")
        if row.result != "connected":
            # The department is still ringing or never came: the caller would be left alone.
            why = "仍在呼叫" if row.result is None else "未接通"
            raise InvalidState(f"部门{why}，坐席不能退出三方通话 (call {call_id})")
        await self._seat_leaves(row)
        return row

    async def _seat_leaves(self, row: CallTransfer) -> None:
        channel = self._seat_channel.get(row.call_id)
        if channel is None:
            # Not seen answering by this process (it restarted mid-call): do not claim the
            # seat left while its phone may still be in the room.
            raise NotFound(f"the seat's channel in call {row.call_id} is not known here")
        with contextlib.suppress(act.NoSuchChannel):  # already gone
            await self.link.send(act.hangup(channel))
        self._seat_channel.pop(row.call_id, None)
        await self._update(row.id, seat_left_at=self._now())
        await self.handed_over(row.call_id)

    async def blind(self, call_id: str, seat_id: str, target: Target) -> CallTransfer:
        _caller, seat_chan = await self._call_of(call_id, seat_id)
        row = await self._record(call_id, "blind", target, seat_id, None, False)
        try:
            await self.link.send(act.blind_transfer(seat_chan, "transfer", target.number))
        except act.AmiError as exc:
            await self._update(row.id, result="failed", ended_at=self._now())
            raise InvalidState(f"转接失败: {exc.message}") from exc
        self._blind[call_id] = row.id
        self._seat_channel.pop(call_id, None)
        await self._update(row.id, seat_left_at=self._now())
        await self.handed_over(call_id)
        return row

    async def spy(self, seat_id: str, supervisor: str, mode: str) -> str:
        if mode not in SPY_MODES:
            raise Invalid(f"mode must be one of {', '.join(SPY_MODES)}")
        if not _SUPERVISOR.match(supervisor):
            raise Invalid(f"supervisor {supervisor[:40]!r} is not a softphone id")
        seat = await self.acd.seat(seat_id)
        if seat.state is not SeatState.busy or seat.call_id is None:
            raise InvalidState(f"坐席 {seat_id} 当前没有通话")
        action = act.originate(
            f"PJSIP/{supervisor}",
            context="supervisor",
            exten=mode,
            caller_id=f'"监听 {seat_id}" <{seat_id}>',
            variables={"SPY_TARGET": seat.endpoint, "CITY": self.city},
        )
        await self.link.send(action)
        log.info(
            "transfers %s: call %s: %s %s by %s", self.city, seat.call_id, mode, seat_id, supervisor
        )
        return seat.call_id

    # --- helpers --------------------------------------------------------------------------
    async def target(self, department_id: str | None, number: str | None) -> Target:
        if department_id:
            if not department_id.isdigit():
                raise Invalid(f"department_id {department_id[:20]!r} is not a number")
            async with self.sessions() as session:
                dept = await department_by_id(session, int(department_id))
            if dept is None:
                raise NotFound(f"unknown department {department_id}")
            if not on_duty(dept.duty_hours, self.tz, self._now()):
                raise InvalidState(f"{dept.name} 不在值班时间 ({dept.duty_hours})")
            return Target(re.sub(r"\D", "", dept.number), dept.id, dept.name)
        # A typed number reaches the carrier only if it is a directory number or matches the
        # outbound policy (NotDialable is a ValueError: the seat gets a 422 with the reason).
        async with self.sessions() as session:
            directory = await department_numbers(session)
        digits = self.outbound.check(number or "", trusted=directory)
        return Target(digits, None, digits)

    async def _call_of(self, call_id: str, seat_id: str) -> tuple[str, str]:
        seat = await self.acd.seat(seat_id)
        if seat.call_id != call_id or seat.state is not SeatState.busy:
            raise InvalidState(f"坐席 {seat_id} 不在通话 {call_id} 中")
        state = self.link.pipeline.tracker.calls.get(call_id)
        seat_chan = self._seat_channel.get(call_id)
        if state is None or state.root_channel is None or seat_chan is None:
            raise NotFound(f"call {call_id} is not up on this PBX")
        return state.root_channel, seat_chan

    async def _record(
        self, call_id: str, kind: str, target: Target, seat_id: str, room: str | None, stay: bool
    ) -> CallTransfer:
        async with self.sessions.begin() as session:
            row = CallTransfer(
                call_id=call_id,
                city=self.city,
                kind=kind,
                department_id=target.department_id,
                number=target.number,
                seat_id=seat_id,
                room=room,
                key=f"xf-{call_id}-{self.clock()}".replace(".", "_"),
                stay=stay,
                requested_at=self._now(),
            )
            session.add(row)
        return row

    async def _update(self, transfer_id: int, **values: object) -> CallTransfer | None:
        async with self.sessions.begin() as session:
            row = await session.get(CallTransfer, transfer_id)
            if row is None:
                return None
            for name, value in values.items():
                setattr(row, name, value)
        return row

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock() / 1000, UTC)


async def transfers_of(
    sessions: async_sessionmaker[AsyncSession], call_id: str
) -> list[CallTransfer]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(CallTransfer)
                .where(CallTransfer.call_id == call_id)
                .order_by(CallTransfer.id)
            )
        )
