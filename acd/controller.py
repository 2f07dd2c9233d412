"""The ACD's side of the controller: call events in, routing decisions and AMI actions out.

Events are handled one at a time in arrival order (a queue), so the state in Redis always
moves in the order Asterisk reported. A tick, twice a second, routes waiting callers, expires
unanswered rings, ends wrap-ups and publishes statistics. Each decision is applied with
Setvar (SEAT, RING_TIMEOUT, HL_REC) and a Redirect to [acd-connect]; a caller who hung up
before the Redirect arrived frees its seat at once (Asterisk answers "Channel does not
exist").

What an event says is dated by when the PBX says it happened (its ``at_ms``), not by when this
queue gets to it: at the peak the queue runs seconds behind, and a caller who hung up after
waiting long enough is owed a callback however late the hang-up is handled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.calls import durable, journal, parked, records
from acd.queue import latency as route_latency
from acd.queue import notify
from acd.queue.mirror import QueueMirror
from acd.queue.service import Acd
from acd.queue.stats import Stats, overloaded
from acd.queue.types import CallNotFound, Decision, SeatNotFound, Skill
from acd.queue.watchdog import SeatWatchdog
from acd.queue.watchdog import channel_seat as seat_of_channel
from ivr.events import CallbackRequest, RouteRequest
from pbx import actions as act
from pbx import callevents as ce
from pbx.link import AmiLink
from pbx.tracker import PHASE_CONFERENCE, PHASE_TALKING
from recording.indexer import SETTLE_S, Ended, Indexer
from recording.policy import base_path
from store import keys
from store.outbox import Outbox, is_outage
from store.tasks import reraise_if_cancelled

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AcdSettings:
    ring_timeout_s: int = 15
    wrapup_s: dict[str, int] = field(default_factory=lambda: {"general": 30, "enterprise": 60})
    helpers: tuple[str, ...] = ()
    overload_ewt_s: float = 120.0
    overload_waiting: int = 3  # ...and at least this many callers waiting on the general line
    # The watchdog (acd.watchdog): seats ringing or busy longer than this are checked.
    stuck_ringing_s: float = 90.0
    stuck_busy_s: float = 7200.0
    recordings: str = "/var/spool/asterisk/monitor"
    keep_mixed: bool = True  # keep the mixed file beside the per-speaker ones
    callback_after_s: float = 10.0  # a caller who waited this long and gave up is called back
    callback_daily_limit: int = 3
    # Checks for the ended call's files to be there and closed (recording.indexer).
    index_settle_s: tuple[float, ...] = SETTLE_S


# Orphaned call records (see AcdController._close_orphans): how young is left alone, how old
# is looked at.
ORPHAN_GRACE_S = 30
ORPHAN_LOOKBACK_S = 24 * 3600
ORPHAN_RETRY_S = 5  # the pass postponed (writes in the outbox, no database): tried again then


@dataclass(frozen=True)
class Routed:
    """A caller the IVR handed over, and the channel to Redirect when a seat is free;
    ``at_ms``: when the PBX reported it (the caller's wait starts there)."""

    request: RouteRequest
    channel: str
    at_ms: int | None = None


@dataclass(frozen=True)
class Accepted:
    """按1预约回拨, and when the PBX reported it."""

    request: CallbackRequest
    at_ms: int | None = None


_Item = ce.CallEvent | Routed | Accepted


@dataclass(frozen=True)
class _Live:
    """A queued call as Redis knows it: any controller process (or a restarted one) can act."""

    city: str
    channel: str
    skill: str
    arrival_ms: int
    answered_ms: int | None
    caller: str
    state: str = ""
    fallback: bool = False  # the dialplan's own Queue() took it over (no recording there)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class AcdController:
    def __init__(
        self,
        city: str,
        link: AmiLink,
        acd: Acd,
        stats: Stats,
        sessions: async_sessionmaker[AsyncSession],
        settings: AcdSettings | None = None,
        clock: Callable[[], int] | None = None,
        *,
        indexer: Indexer,
        outbox: Outbox | None = None,
    ) -> None:
        self.city = city
        self.link = link
        self.acd = acd
        self.stats = stats
        self.sessions = sessions
        self.settings = settings or AcdSettings()
        self.clock = clock or acd.clock
        self._events: asyncio.Queue[_Item] = asyncio.Queue()
        self._overloaded: bool | None = None
        self._entered: set[str] = set()  # calls that came in from the PSTN, until they end
        self._callback_requested: set[str] = set()
        # Calls a seat handed over: recorded on until the caller hangs up, then indexed.
        self._handed: dict[str, tuple[_Live, str]] = {}
        # Calls let go because their channel was gone before the Redirect, until their Hangup
        # comes: it must still read as a caller who waited (abandoned, called back), not as
        # one who hung up in the menu.
        self._gone: dict[str, _Live] = {}
        # When to look for orphaned records once more (clock ms): the resync leaves the young
        # ones alone, and a call that ended during the outage may be one of them.
        self._orphans_due: int | None = None
        self._ewt: dict[str, float] = {}  # per skill, refreshed by the tick (costly to compute)
        self._routing_failed = False  # the last routing pass failed on Redis (logged once)
        # Indexes answered calls' recordings; made by the composition root, which also
        # decides what follows indexing (the ASR jobs).
        self.indexer = indexer
        # Record and callback writes: kept in Redis while the database is unreachable and
        # replayed by the city's runtime (hotline.controller), so routing never waits for it.
        self.outbox = outbox or durable.outbox(acd.redis, city, sessions)
        self.mirror = QueueMirror(city, link, acd.redis)
        self.watchdog = SeatWatchdog(
            city,
            link,
            acd,
            self._lost_call,
            ringing_s=self.settings.stuck_ringing_s,
            busy_s=self.settings.stuck_busy_s,
        )

    # --- input ---------------------------------------------------------------------------
    def on_event(self, event: ce.CallEvent) -> None:
        """Tracker subscriber: queue the event, handled in order by ``run``."""
        self._events.put_nowait(event)

    def route(self, request: RouteRequest, channel: str, at_ms: int | None = None) -> None:
        """The IVR handed a caller to the ACD (a parsed UserEvent HotlineRoute, and the
        caller's channel from the tracker's CallParked, which also tells ``at_ms``)."""
        self._events.put_nowait(Routed(request, channel, at_ms))

    def callback_accepted(self, request: CallbackRequest, at_ms: int | None = None) -> None:
        """按1预约回拨 (a parsed UserEvent CallbackAccepted)."""
        self._events.put_nowait(Accepted(request, at_ms))

    async def run(self, tick_s: float = 0.5) -> None:
        loop = asyncio.get_running_loop()
        try:
            await self.indexer.resume()  # calls a stopped controller had not indexed yet
        except Exception:
            reraise_if_cancelled()
            log.exception("acd %s: cannot resume the recordings left to index", self.city)
        ticker = loop.create_task(self._ticker(tick_s))
        try:
            while True:
                reraise_if_cancelled()
                item = await self._events.get()
                try:
                    await self._handle(item)
                except Exception:  # one bad event must not stop the city's controller
                    reraise_if_cancelled()
                    log.exception("acd %s: handling %r failed", self.city, item)
                await self._routing_pass()
        finally:
            self.indexer.close()  # what it had in hand is resumed on the next start
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)

    async def _ticker(self, tick_s: float) -> None:
        n = 0
        while True:
            reraise_if_cancelled()  # a driver may have swallowed the cancellation
            await asyncio.sleep(tick_s)
            n += 1
            try:
                for released in await self.acd.expire_rings():
                    await self._offer_closed(released.call_id, "noanswer")
                    await self._tell_state(released.seat_id)
                for seat_id in await self.acd.finish_wrapups():
                    await self._tell_state(seat_id)
                await self._route_all()
                await self._orphans_again()
                if n % 2 == 0:
                    await self.mirror.sync()
                if n % 4 == 0:
                    await self.publish_stats()
                if n % 20 == 0:
                    for seat_id in await self.watchdog.check(self.clock()):
                        await self._tell_state(seat_id)
            except Exception:
                reraise_if_cancelled()
                log.exception("acd %s: tick failed", self.city)

    # --- handlers ------------------------------------------------------------------------
    async def _handle(self, item: _Item) -> None:
        now = self.clock() if item.at_ms is None else item.at_ms
        if isinstance(item, Routed):
            await self._route_request(item.request, item.channel, now)
        elif isinstance(item, Accepted):
            await self._callback_accepted(item.request, now)
        elif isinstance(item, ce.CallEntered):
            if item.context == "from-pstn":
                self._entered.add(item.call_id)
                await self.outbox.write(
                    "call_entered",
                    call_id=item.call_id,
                    city=self.city,
                    caller_num=item.caller_num,
                    at=_at(now),
                )
        elif isinstance(item, ce.SeatRinging):
            await self._ringing(item.call_id, item.seat_channel)
        elif isinstance(item, ce.SeatAnswered):
            await self._answered(item.call_id, now, item.seat_channel)
        elif isinstance(item, ce.SeatNotAnswered):
            await self._not_answered(item.call_id, item.dial_status, item.seat_channel)
        elif isinstance(item, ce.CallQueued):
            await self._fallback(item.call_id, f"queue {item.queue}")
        elif isinstance(item, ce.CallerHungUp):
            await self._hung_up(item, now)
        elif isinstance(item, ce.ResyncComplete):
            self.mirror.forget()
            await self._reconcile(set(item.calls), self.clock())
        elif isinstance(item, ce.CallUserEvent) and item.name == "HotlineFallback":
            await self._fallback(item.call_id, f"waited {item.fields.get('Waited', '?')} s")

    async def _route_request(
        self, req: RouteRequest, channel: str, now: int, since: int | None = None
    ) -> None:
        """Queue the caller; ``since``: when they began to wait, if before now (a caller
        found parked at a resync keeps the place their wait earned)."""
        if await self._live(req.call_id) is not None:
            # A HotlineRoute for a caller already queued: the resync found it parked first.
            log.info("acd %s: call %s is queued already", self.city, req.call_id)
            return
        skill = Skill(req.skill)
        arrival = since if since is not None else now
        at = _at(arrival)
        await self.outbox.write(
            "call_entered", call_id=req.call_id, city=self.city, caller_num=req.caller_num, at=at
        )
        await self.outbox.write(
            "call_queued", call_id=req.call_id, skill=skill.value, path=req.path, at=at
        )
        position = await self.acd.enqueue(
            req.call_id,
            self.city,
            skill,
            priority=req.priority,
            arrival_ms=arrival,
            channel=channel,
            caller_num=req.caller_num,
        )
        await self.stats.offered(self.city, skill, now)
        log.info(
            "acd %s: call %s (%s) queued for %s at %d",
            self.city,
            req.call_id,
            req.masked_caller,
            skill,
            position,
        )

    async def _live(self, call_id: str) -> _Live | None:
        """The call if it is queued, ringing or talking and belongs to this city."""
        try:
            info = await self.acd.call_info(call_id)
        except CallNotFound:
            return None
        if info.get("city") != self.city:
            return None
        answered = info.get("answered_at")
        return _Live(
            info["city"],
            info.get("channel", ""),
            info["skill"],
            int(info["arrival"]),
            int(answered) if answered else None,
            info.get("caller", ""),
            info.get("state", ""),
            "fallback_at" in info,
        )

    async def _callback_accepted(self, req: CallbackRequest, now: int) -> None:
        """按1预约回拨: the task is written first; the caller then hears the confirmation."""
        self._callback_requested.add(req.call_id)
        await self.outbox.write(
            "callback_create",
            number=req.caller_num,
            city=self.city,
            skill=Skill(req.skill).value,
            source="overload",
            call_id=req.call_id,
            waited_s=0.0,
            at=_at(now),
            daily_limit=self.settings.callback_daily_limit,
        )

    async def _fallback(self, call_id: str, why: str) -> None:
        """The dialplan queued the caller itself ([acd-wait] fallback): it leaves the
        controller's queue, so no Redirect ever pulls it out of app_queue's hands."""
        live = await self._live(call_id)
        if live is None or live.fallback:
            return
        freed = await self.acd.to_fallback(call_id)
        log.warning(
            "acd %s: call %s handed to the dialplan's fallback queue (%s)", self.city, call_id, why
        )
        if freed is not None:  # a Redirect lost the race: that offer is over
            await self._offer_closed(call_id, "fallback")
            await self._tell_state(freed.seat_id)

    async def _ringing(self, call_id: str, seat_channel: str) -> None:
        live = await self._live(call_id)
        if live is None or live.state != "fallback":
            return
        seat_id = seat_of_channel(seat_channel)
        if seat_id:
            await self.acd.fallback_ringing(call_id, seat_id)
            await self._tell_state(seat_id)

    async def _answered(self, call_id: str, now: int, seat_channel: str = "") -> None:
        live = await self._live(call_id)
        if live is None:
            return
        if live.state == "fallback":
            await self._fallback_answered(live, call_id, now, seat_channel)
            return
        seat_id = await self.acd.answered(call_id)
        await notify.seat_event(
            self.acd.redis, seat_id, "answered", call_id=call_id, city=self.city
        )
        # Got through: an open callback for this number is no longer needed.
        await self.outbox.write("callback_cancel", number=live.caller, at=_at(now))
        await self.outbox.write("offer_result", call_id=call_id, result="answered", at=_at(now))
        await self.stats.answered(self.city, live.skill, now, (now - live.arrival_ms) / 1000)

    async def _fallback_answered(
        self, live: _Live, call_id: str, now: int, seat_channel: str
    ) -> None:
        """A member of the fallback queue answered: the call is recorded with that seat, and
        the seat is busy in the ACD (it may have been paused there while it talks)."""
        seat_id = seat_of_channel(seat_channel)
        if not seat_id or not await self.acd.fallback_answered(call_id, seat_id):
            log.warning(
                "acd %s: call %s answered by %r in the fallback queue; seat unknown",
                self.city,
                call_id,
                seat_channel,
            )
            return
        log.info("acd %s: call %s answered by seat %s (fallback)", self.city, call_id, seat_id)
        try:
            seat_city = (await self.acd.seat(seat_id)).city
        except SeatNotFound:
            seat_city = self.city
        await self._offered(call_id, seat_id, seat_city, False, _at(now))
        await self.outbox.write("offer_result", call_id=call_id, result="answered", at=_at(now))
        await notify.seat_event(
            self.acd.redis, seat_id, "answered", call_id=call_id, city=self.city
        )
        await self._tell_state(seat_id)
        await self.outbox.write("callback_cancel", number=live.caller, at=_at(now))
        await self.stats.answered(self.city, live.skill, now, (now - live.arrival_ms) / 1000)

    async def _not_answered(self, call_id: str, status: str, seat_channel: str = "") -> None:
        live = await self._live(call_id)
        if live is None:
            return
        if live.state == "fallback":
            seat_id = seat_of_channel(seat_channel)
            if seat_id:
                await self.acd.fallback_missed(call_id, seat_id)
                await self._tell_state(seat_id)
            return
        released = await self.acd.seat_missed(call_id)
        if released:
            await self._offer_closed(call_id, status.lower())
            for item in released:  # paused 未接来电: the seat page must leave 振铃
                await self._tell_state(item.seat_id)

    async def _offer_closed(self, call_id: str, result: str) -> None:
        await self.outbox.write(
            "offer_result", call_id=call_id, result=result, at=_at(self.clock())
        )

    async def _offered(
        self, call_id: str, seat_id: str, seat_city: str, overflowed: bool, at: datetime
    ) -> None:
        await self.outbox.write(
            "seat_offered",
            call_id=call_id,
            seat_id=seat_id,
            seat_city=seat_city,
            overflowed=overflowed,
            at=at,
        )

    async def _ended(self, call_id: str, outcome: str, cause: int | None, at: datetime) -> None:
        await self.outbox.write("call_ended", call_id=call_id, outcome=outcome, cause=cause, at=at)

    async def _hung_up(self, event: ce.CallerHungUp, now: int) -> None:
        gone = self._gone.pop(event.call_id, None)
        live = await self._live(event.call_id) or gone
        if live is None:
            if event.call_id in self._handed:
                await self._index_recordings(event.call_id, *self._handed.pop(event.call_id))
            if event.call_id in self._entered:
                # Hung up in the menu, before the IVR handed the caller over.
                self._entered.discard(event.call_id)
                asked = event.call_id in self._callback_requested
                self._callback_requested.discard(event.call_id)
                outcome = "callback_requested" if asked else "ivr_hangup"
                await self._ended(event.call_id, outcome, event.cause, _at(now))
            return
        self._entered.discard(event.call_id)
        wrap = self.settings.wrapup_s.get(live.skill, 30)
        waited = (now - live.arrival_ms) / 1000
        # A caller who gave up in the dialplan's fallback queue is called back by the
        # callback runner ("missed"); one task per number is enough.
        if (
            live.answered_ms is None
            and not live.fallback
            and waited >= self.settings.callback_after_s
        ):
            # The task first, while the call is still in the ACD: a controller that dies after
            # acd.ended() would find nothing to reconcile on restart, and the task would be
            # lost. Creating it twice (a replayed hang-up) is harmless: one open task per number.
            await self.outbox.write(
                "callback_create",
                number=live.caller,
                city=self.city,
                skill=live.skill,
                source="abandoned",
                call_id=event.call_id,
                waited_s=waited,
                at=_at(now),
                daily_limit=self.settings.callback_daily_limit,
            )
        outcome, seat = await self.acd.ended(event.call_id, wrapup_s=wrap)
        if seat:
            await notify.seat_event(self.acd.redis, seat, "ended", call_id=event.call_id)
        if outcome == "unknown" and live.answered_ms is None:
            outcome = "abandoned"  # the ACD already let it go (e.g. gone before the redirect)
        if outcome in ("abandoned", "abandoned_ringing"):
            await self.stats.abandoned(self.city, live.skill, now)
            if outcome == "abandoned_ringing":
                await self.outbox.write(
                    "offer_result", call_id=event.call_id, result="cancel", at=_at(now)
                )
            outcome = "abandoned"
        elif live.answered_ms is not None:
            await self.stats.handled(
                self.city, live.skill, now, (now - live.answered_ms) / 1000 + wrap
            )
            outcome = "completed"
            if not live.fallback:  # [acd-wait]'s Queue() records nothing
                await self._index_recordings(event.call_id, live, seat)
        await self._ended(event.call_id, outcome, event.cause, _at(now))

    async def _index_recordings(self, call_id: str, live: _Live, seat: str) -> None:
        """Index the answered call's files and queue its ASR jobs, in the background once
        MixMonitor has closed them (recording.indexer)."""
        call = Ended(
            call_id,
            seat or None,
            _at(live.arrival_ms),
            _at(live.answered_ms or live.arrival_ms),
        )
        await self.indexer.submit(call)

    async def handed_over(self, call_id: str) -> None:
        """The seat left a call that goes on without it (blind transfer, a conference it
        left): the seat goes to wrap-up now and the call's record is closed as transferred;
        the caller's later hang-up is no longer the ACD's business."""
        live = await self._live(call_id)
        if live is None:
            return
        self._entered.discard(call_id)
        now = self.clock()
        wrap = self.settings.wrapup_s.get(live.skill, 30)
        _outcome, seat_id = await self.acd.ended(call_id, wrapup_s=wrap)
        if seat_id:  # its phone left the call: the seat's page moves to wrap-up
            await notify.seat_event(self.acd.redis, seat_id, "ended", call_id=call_id)
        if live.answered_ms is not None:
            self._handed[call_id] = (live, seat_id)
            await self.stats.handled(
                self.city, live.skill, now, (now - live.answered_ms) / 1000 + wrap
            )
        await self._ended(call_id, "transferred", None, _at(now))

    async def _tell_state(self, seat_id: str) -> None:
        try:
            view = await self.acd.seat(seat_id)
        except SeatNotFound:
            return
        await notify.seat_state(self.acd.redis, view)

    async def _lost_call(self, call_id: str) -> None:
        """The watchdog found a call the PBX no longer has: end it as after a link drop."""
        if call_id.startswith(keys.CALLBACK_PSEUDO_PREFIX):
            await self.acd.ended(call_id, wrapup_s=0)  # a callback leg: the runner's own record
            return
        await self._hung_up(ce.CallerHungUp(call_id, "", 0, "unknown"), self.clock())

    async def _reconcile(self, live_calls: set[str], now: int) -> None:
        """After a (re)connect: calls the ACD holds that Asterisk no longer has ended while
        the link was down. Let them go, so their seats are not held for ever."""
        for call_id in await self.acd.active(self.city) - live_calls:
            log.info("acd %s: call %s ended while the link was down", self.city, call_id)
            await self._hung_up(ce.CallerHungUp(call_id, "", 0, "unknown"), now)
        # Calls whose Hangup the drop swallowed, that the ACD no longer holds: a caller let go
        # before the Redirect (still owed its callback) and calls a seat had handed over
        # (their recordings still to index). Else they would wait in memory for ever.
        for call_id in [c for c in self._gone if c not in live_calls]:
            await self._hung_up(ce.CallerHungUp(call_id, "", 0, "unknown"), now)
        for call_id in [c for c in self._handed if c not in live_calls]:
            await self._index_recordings(call_id, *self._handed.pop(call_id))
        try:
            channels = await self._channels()
            await self._adopt_bridged(channels, now)
            await self._queue_parked(channels, now)
        except (act.AmiError, act.ActionNotSent, TimeoutError) as exc:
            log.warning("acd %s: cannot list channels to adopt calls: %s", self.city, exc)
        self._orphans_due = now + (ORPHAN_GRACE_S + 1) * 1000
        # The journal, like the orphan pass, waits for the outbox: a call whose record is
        # still there is no call that no controller saw.
        if await self._outbox_drained():
            await self._read_journal(now)
            await self._close_orphans(live_calls, now)

    async def _outbox_drained(self) -> bool:
        """Whether no record write waits in the outbox. The orphan pass waits for that: a
        record whose end (or whose very row) is still in the outbox is no orphan."""
        if not await self.outbox.behind():
            return True
        log.info("acd %s: orphan pass postponed: record writes wait for the database", self.city)
        return False

    async def _read_journal(self, now: int) -> None:
        """Calls that came and went while no controller ran get their records and callbacks
        from the dialplan's call journal (acd.calls.journal)."""
        policy = journal.JournalPolicy(
            callback_after_s=self.settings.callback_after_s,
            daily_limit=self.settings.callback_daily_limit,
        )
        try:
            held = frozenset(await self.acd.active(self.city))
            done = await journal.replay(
                self.link, self.acd.redis, self.sessions, self.city, now / 1000, policy, held
            )
        except (act.AmiError, act.ActionNotSent, TimeoutError) as exc:
            log.warning("acd %s: cannot read the call journal: %s", self.city, exc)
            return
        if done.recorded or done.skipped:
            log.warning(
                "acd %s: call journal %s: %d entries, %d calls recorded, %d callbacks, %d skipped",
                self.city,
                "..".join(dict.fromkeys((done.hours[0], done.hours[-1]))),
                done.entries,
                done.recorded,
                done.callbacks,
                len(done.skipped),
            )

    async def _orphans_again(self) -> None:
        """The orphan pass once more, a grace after the resync, against the calls the tracker
        follows now (it has been in step with the PBX since the resync); again later while
        the outbox holds writes or the database does not answer."""
        now = self.clock()
        if self._orphans_due is None or now < self._orphans_due:
            return
        self._orphans_due = now + ORPHAN_RETRY_S * 1000
        if not await self._outbox_drained():
            return
        try:
            # Callers still in the menu at the resync who hung up since: the journal has them
            await self._read_journal(now)
            await self._close_orphans(set(self.link.pipeline.tracker.calls), now)
        except Exception as exc:
            reraise_if_cancelled()
            if not is_outage(exc):
                self._orphans_due = None  # as before the outbox: one try, logged by the tick
                raise
            log.warning("acd %s: orphan pass postponed: %s", self.city, type(exc).__name__)
            return
        self._orphans_due = None

    async def _channels(self) -> list[dict[str, str]]:
        return [
            fields
            for fields in (
                dict(m.headers) for m in await self.link.send_list(act.core_show_channels())
            )
            if fields.get("Event") == "CoreShowChannel" and fields.get("Linkedid")
        ]

    async def _queue_parked(self, channels: list[dict[str, str]], now: int) -> None:
        """Callers waiting in [acd-wait] whose HotlineRoute no controller heard (acd.calls.
        parked): queued by the time they began to wait, not left to the fallback."""
        for channel in parked.candidates(channels):
            if await self._live(channel["Uniqueid"]) is not None:
                continue  # queued before the link dropped: the ACD kept it
            found = await parked.read_back(self.link, channel, self.city, now)
            if found is None:
                continue
            log.warning("acd %s: call %s found waiting unqueued after a resync; queued",
                        self.city, found.request.call_id)  # fmt: skip
            await self._route_request(found.request, found.channel, now, since=found.since_ms)

    async def _adopt_bridged(self, channels: list[dict[str, str]], now: int) -> None:
        """Calls talking to a seat that the ACD does not know as talking: answered by the
        dialplan's fallback while no controller ran (or while its report was lost). They
        get their record and their seat is busy, not 小休 while it talks (issue 13)."""
        by_call: dict[str, list[dict[str, str]]] = {}
        for fields in channels:
            by_call.setdefault(fields["Linkedid"], []).append(fields)
        for call_id, chans in by_call.items():
            root = next((c for c in chans if c.get("Uniqueid") == call_id), None)
            bridge = (root or {}).get("BridgeId", "")
            if root is None or not bridge:
                continue
            seat_id = next(
                (
                    seat_of_channel(c.get("Channel", ""))
                    for c in chans
                    if c is not root and c.get("BridgeId") == bridge
                ),
                "",
            )
            if not seat_id:
                continue
            live = await self._live(call_id)
            if live is not None and live.state == "talking":
                continue  # the ACD knows it (a controller-routed call survives a restart)
            try:
                seat = await self.acd.seat(seat_id)
            except SeatNotFound:
                continue  # not a seat (a callback's citizen leg, a department)
            await self._adopt(call_id, root, seat.seat_id, seat.city, now)

    async def _adopt(
        self, call_id: str, root: dict[str, str], seat_id: str, seat_city: str, now: int
    ) -> None:
        caller = root.get("CallerIDNum", "")
        queue = root.get("ApplicationData", "").split(",", 1)[0]
        skill = queue.rpartition("-")[2] if root.get("Application") == "Queue" else ""
        try:
            record = await records.get_record(self.sessions, call_id)
        except CallNotFound:
            record = None
        except Exception as exc:
            reraise_if_cancelled()
            if not is_outage(exc):
                raise
            # Without the record, adopting would guess its skill over the real one; the
            # watchdog and the next resync find the call again.
            log.warning("acd %s: call %s talking with seat %s not adopted: no database",
                        self.city, call_id, seat_id)  # fmt: skip
            return
        if record is not None and record.skill:
            skill = record.skill
        if skill not in set(Skill):
            skill = Skill.general
        arrival = int(record.entered_at.replace(tzinfo=UTC).timestamp() * 1000) if record else now
        adopted = await self.acd.adopt_talking(
            call_id,
            self.city,
            skill,
            seat_id=seat_id,
            channel=root.get("Channel", ""),
            caller_num=caller,
            arrival_ms=arrival,
        )
        if not adopted:
            return
        log.warning(
            "acd %s: call %s found talking with seat %s after a restart; adopted",
            self.city,
            call_id,
            seat_id,
        )
        await self.outbox.write(
            "call_entered", call_id=call_id, city=self.city, caller_num=caller, at=_at(arrival)
        )
        if record is None or not record.skill:  # the IVR's report was not seen either
            await self.outbox.write(
                "call_queued", call_id=call_id, skill=skill, path="", at=_at(arrival)
            )
        if record is None or record.answered_at is None:
            await self._offered(call_id, seat_id, seat_city, False, _at(now))
            await self.outbox.write("offer_result", call_id=call_id, result="answered", at=_at(now))
        await self._tell_state(seat_id)

    async def _close_orphans(self, live_calls: set[str], now: int) -> None:
        """Records a controller left without an end: it died between letting the call go in
        the ACD and writing the end, or the call hung up in the menu while no controller was
        running. Asterisk no longer has them and the ACD does not hold them. Calls younger
        than ORPHAN_GRACE_S are left alone: one that came in while the resync was listing
        channels is not in the list, yet lives (the next resync closes a young orphan)."""
        until = _at(now - ORPHAN_GRACE_S * 1000)
        since = _at(now - ORPHAN_LOOKBACK_S * 1000)
        held = await self.acd.active(self.city)
        for record in await records.open_between(self.sessions, self.city, since, until):
            if record.call_id in live_calls or record.call_id in held:
                continue
            outcome = records.presumed_outcome(record)
            log.warning(
                "acd %s: call %s was left without an end; closed as %s",
                self.city,
                record.call_id,
                outcome,
            )
            # The indexing note first: a controller killed after closing the record and before
            # the note would leave the recordings without rows for good (a closed record is
            # no orphan on the next start); killed after the note, the next start indexes it
            # and closes the record again.
            if record.answered_at is not None:  # its recordings may not be indexed either
                started = record.answered_at
                await self.indexer.submit(
                    Ended(record.call_id, record.seat_id, record.entered_at, started)
                )
            await self._ended(record.call_id, outcome, None, _at(now))
            self._entered.discard(record.call_id)

    # --- routing ---------------------------------------------------------------------
    async def _routing_pass(self) -> None:
        """A routing pass after an event. Redis away for longer than the client waits for it
        (hotline.redis.outage_retry) fails the pass, not the city's loops: the next event
        or tick routes the callers still waiting. Logged once per outage."""
        try:
            await self._route_all()
        except RedisError as exc:
            reraise_if_cancelled()
            if not self._routing_failed:
                log.warning("acd %s: routing pass failed, retried next pass: %s", self.city, exc)
            self._routing_failed = True
        except Exception:  # nor any other failed pass (a database write): the tick routes again
            reraise_if_cancelled()
            log.exception("acd %s: routing pass failed", self.city)
        else:
            if self._routing_failed:
                log.info("acd %s: routing again", self.city)
            self._routing_failed = False

    async def _route_all(self) -> None:
        for skill in Skill:
            while True:
                started = time.perf_counter()
                decision = await self.acd.route(
                    self.city,
                    skill,
                    ring_timeout_s=self.settings.ring_timeout_s,
                    ewt_s=self._ewt.get(skill, 0.0),
                    default_helpers=self.settings.helpers,
                )
                if decision is None:
                    break
                # Only decisions that picked a seat are timed: the empty checks of every
                # tick would drown them (and cost a Redis write each).
                await self._timed(time.perf_counter() - started)
                await self._apply(decision)

    async def _timed(self, seconds: float) -> None:
        try:
            await route_latency.observe(self.acd.redis, self.city, seconds)
        except Exception as exc:  # a lost sample must not stop the routing
            reraise_if_cancelled()
            log.warning("acd %s: cannot record a routing time: %s", self.city, exc)

    def _bridged(self, call_id: str) -> bool:
        """Whether the call tracker sees the caller talking or in a conference: such a
        channel is never Redirected (that would pull it out of its conversation)."""
        call = self.link.pipeline.tracker.calls.get(call_id)
        return call is not None and call.phase in (PHASE_TALKING, PHASE_CONFERENCE)

    async def _apply(self, decision: Decision) -> None:
        live = await self._live(decision.call_id)
        if live is None:  # the caller left between the decision and now
            await self.acd.ended(decision.call_id)
            return
        if self._bridged(decision.call_id):
            # Someone answered it outside the controller (the dialplan's fallback whose
            # report was lost): it is the dialplan's now, and the reserved seat is free.
            log.warning(
                "acd %s: call %s is bridged; not redirected (seat %s freed)",
                self.city,
                decision.call_id,
                decision.seat_id,
            )
            await self.acd.to_fallback(decision.call_id)
            await self._tell_state(decision.seat_id)
            return
        attempt = await self.acd.redis.hincrby(keys.acd_call(decision.call_id), "attempts", 1)
        now = self.clock()
        # One recording per attempt: MixMonitor would overwrite a file of the same name.
        rec = base_path(self.settings.recordings, decision.call_id, attempt, _at(live.arrival_ms))
        await self._offered(
            decision.call_id, decision.seat_id, decision.seat_city, decision.overflowed, _at(now)
        )
        if decision.overflowed:
            await self.stats.overflowed(self.city, decision.seat_city, decision.skill, now)
        try:
            for name, value in (
                ("SEAT", decision.dial_string),
                ("RING_TIMEOUT", str(decision.ring_timeout_s)),
                ("HL_REC", rec),
            ):
                await self.link.send(act.setvar(name, value, channel=live.channel))
            await self.link.send(act.redirect(live.channel, "acd-connect", "s"))
            await notify.seat_event(
                self.acd.redis,
                decision.seat_id,
                "ringing",
                call_id=decision.call_id,
                city=self.city,
                caller=live.caller,
                skill=decision.skill,
                overflowed=decision.overflowed,
            )
        except act.NoSuchChannel:
            # The caller hung up a moment ago: free the seat now (acd_redirect_race).
            log.info("acd %s: call %s gone before the redirect", self.city, decision.call_id)
            outcome, _seat = await self.acd.ended(decision.call_id)
            if outcome != "unknown":  # else its Hangup has been handled already
                self._gone[decision.call_id] = live
            await self.outbox.write(
                "offer_result", call_id=decision.call_id, result="gone", at=_at(now)
            )
        except (act.ActionNotSent, TimeoutError) as exc:
            # Unknown whether Asterisk got it: put the caller back; the ring deadline and the
            # resync after the reconnect settle the rest.
            log.warning(
                "acd %s: redirect of %s not confirmed: %s", self.city, decision.call_id, exc
            )
            for released in await self.acd.seat_missed(decision.call_id):
                await self._tell_state(released.seat_id)

    async def publish_stats(self) -> None:
        now = self.clock()
        general = None
        for skill in Skill:
            snap = await self.stats.snapshot(self.city, skill, now)
            self._ewt[skill] = snap.ewt_s
            await self.stats.publish(snap)
            if skill is Skill.general:
                general = snap
        if general is None:
            return
        flag = overloaded(
            general.ewt_s,
            self.settings.overload_ewt_s,
            waiting=general.waiting,
            min_waiting=self.settings.overload_waiting,
        )
        if flag != self._overloaded:
            try:
                await self.link.send(
                    act.setvar(f"OVERLOAD_{self.city.upper()}", "1" if flag else "0")
                )
                self._overloaded = flag
            except (act.AmiError, act.ActionNotSent, TimeoutError) as exc:
                log.warning("acd %s: cannot set the overload flag: %s", self.city, exc)
