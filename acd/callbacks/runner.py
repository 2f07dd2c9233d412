"""漏话回拨 execution: a ready seat is rung first, then the citizen, exactly once per attempt.

Each tick, open tasks that are due (within the city's callback hours, after their backoff)
are offered to ready seats with the callback skill; a task the caller accepted in the IVR's
overload branch may also go to a seat of its own skill once nobody who arrived before it
still waits there (it keeps the caller's place). One Lua script claims the task and reserves
the seat (``acd/queue/lua/callback_claim.lua``); the attempt is written to the database; only then
is the Originate sent, its idempotency key ``cb-<task>-<attempt>`` set as ActionID and
channel variable. Nothing is ever re-sent: after a link drop or a restart, the outcome is
learned from what Asterisk reports (events, the resync's live channels, and the result the
[callback] dialplan keeps in AstDB under that key, which also makes the dialplan refuse a
second run of the same key).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks import stats as callback_stats
from acd.callbacks import store
from acd.callbacks import tasks as callbacks
from acd.callbacks.tables import CallbackTask
from acd.calls import durable
from acd.calls.dialable import OutboundPolicy
from acd.queue import notify
from acd.queue.service import PRIORITY_STEP, Acd
from acd.queue.types import InvalidTransition, Skill
from pbx import actions as act
from pbx import callevents as ce
from pbx.link import UP, AmiLink, DuplicateOriginate
from recording.indexer import Ended, Indexer
from recording.policy import base_path
from store import keys
from store.outbox import QUEUED, Outbox, is_outage
from store.privacy import mask_phone
from store.tasks import get_within, reraise_if_cancelled

log = logging.getLogger(__name__)

ASTDB_FAMILY = "hlcb"  # asterisk_conf/extensions.conf [callback] keeps results here


@dataclass(frozen=True)
class CallbackSettings:
    hours: tuple[str, str] = ("08:00", "21:00")  # local time of the city; start <= t < end
    tz: str = "Asia/Shanghai"
    max_attempts: int = 3  # attempts that rang the citizen
    backoff_s: float = 300.0  # before the 2nd attempt; doubled after each further one
    seat_ring_s: int = 20
    citizen_ring_s: int = 30
    wrapup_s: int = 30
    claim_ttl_s: int = 3600  # a dead controller's claim frees the task after this
    batch: int = 20
    recordings: str = "/var/spool/asterisk/monitor"
    keep_mixed: bool = True
    stats_every_s: float = 5.0
    # After a connected callback, look for its MixMonitor files this often (seconds): the
    # recorder may finish writing them a moment after the result is known.
    index_after_s: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)
    # The caller id comes from the network: only numbers this policy allows are called back.
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)


@dataclass
class _Run:
    key: str  # idempotency key = pseudo call id in the ACD
    task_id: int
    attempt: int
    number: str
    seat_id: str
    endpoint: str
    leg_id: str | None = None  # the seat leg's Uniqueid (= its call id in the tracker)
    dialled: bool = False
    answered: bool = False  # the citizen picked up
    answered_at: datetime | None = None
    started_at: datetime | None = None  # when the attempt began: its recording's day

    def recording_base(self, root: str) -> str:
        """HL_REC: the attempt's key is its call id in the recording policy's layout."""
        return base_path(root, self.key, 1, self.started_at or datetime.now(UTC))


def _aware(at: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; they were written in UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def within(hours: tuple[str, str], tz: str, at: datetime) -> bool:
    start, end = (time.fromisoformat(h) for h in hours)
    local = at.astimezone(ZoneInfo(tz)).time()
    if start == end:
        return True  # round the clock
    if start < end:
        return start <= local < end
    return local >= start or local < end  # hours across midnight


class CallbackRunner:
    def __init__(
        self,
        city: str,
        link: AmiLink,
        acd: Acd,
        sessions: async_sessionmaker[AsyncSession],
        settings: CallbackSettings | None = None,
        clock: Callable[[], int] | None = None,
        *,
        indexer: Indexer,
        outbox: Outbox | None = None,
    ) -> None:
        self.city = city
        self.link = link
        self.acd = acd
        self.redis: Redis = acd.redis
        self.sessions = sessions
        self.settings = settings or CallbackSettings()
        self.clock = clock or acd.clock
        self._events: asyncio.Queue[ce.CallEvent] = asyncio.Queue()
        self._runs: dict[str, _Run] = {}
        self._urgent: set[int] = set()  # callback_now: tried even outside the hours
        self._fallback: dict[str, tuple[str, float]] = {}  # call id -> (number, waited s)
        self.indexer = indexer  # connected callbacks' recordings (made by the composition root)
        # Attempt progress and tasks: kept in Redis while the database is unreachable; the
        # city's runtime replays them (hotline.controller), and nothing is dialled meanwhile.
        self.outbox = outbox or durable.outbox(acd.redis, city, sessions)
        self._db_down = False  # one warning per outage, not one traceback per tick
        # Idempotency keys of the last Originates sent (diagnostics, tests); bounded.
        self.sent: deque[str] = deque(maxlen=1000)

    # --- input ----------------------------------------------------------------------------
    def on_event(self, event: ce.CallEvent) -> None:
        self._events.put_nowait(event)

    async def run(self, tick_s: float = 0.5) -> None:
        try:
            await self.indexer.resume()  # connected callbacks a stopped runner had not indexed
        except Exception:
            reraise_if_cancelled()
            log.exception("callbacks %s: cannot resume the recordings left to index", self.city)
        for row in await self._open_attempts():
            self._runs[row.key] = _Run(
                row.key, row.task_id, row.attempt, row.number, row.seat_id, "", row.leg_id,
                row.dialled, started_at=_aware(row.started_at),
            )  # fmt: skip
        loop = asyncio.get_running_loop()
        next_tick = next_stats = loop.time()
        try:
            while True:
                reraise_if_cancelled()
                event = await get_within(self._events, max(0.0, next_tick - loop.time()))
                try:
                    if event is not None:
                        await self._handle(event)
                    if loop.time() >= next_tick:
                        next_tick = loop.time() + tick_s
                        await self.dispatch()
                        if loop.time() >= next_stats:
                            next_stats = loop.time() + self.settings.stats_every_s
                            await self.publish_stats()
                except Exception as exc:  # one bad event or tick must not stop the callbacks
                    reraise_if_cancelled()
                    if not is_outage(exc):
                        log.exception("callbacks %s: handling %r failed", self.city, event)
                    elif not self._db_down:
                        log.warning("callbacks %s: no database (%s); waiting for it",
                                    self.city, type(exc).__name__)  # fmt: skip
                    self._db_down = is_outage(exc)
                else:
                    self._db_down = False
        finally:
            self.indexer.close()  # what it had in hand is resumed on the next start

    async def _open_attempts(self) -> list[store.Open]:
        """The attempts a stopped runner left open; waits for the database rather than
        ending the city's process (its supervisor would restart it into the same outage)."""
        while True:
            try:
                return await store.open_attempts(self.sessions, self.city)
            except Exception as exc:
                reraise_if_cancelled()
                if not is_outage(exc):
                    raise
                if not self._db_down:
                    log.warning("callbacks %s: no database (%s); waiting for it",
                                self.city, type(exc).__name__)  # fmt: skip
                self._db_down = True
            await asyncio.sleep(1.0)

    async def publish_stats(self) -> callback_stats.CallbackStats:
        """Today's callback figures (the city's day) on the wallboard stream."""
        local = self.now().astimezone(ZoneInfo(self.settings.tz))
        since = local.replace(hour=0, minute=0, second=0, microsecond=0)
        stats = await callback_stats.summary(self.sessions, self.city, since)
        await callback_stats.publish(self.redis, stats)
        return stats

    def hurry(self, task_id: int) -> None:
        self._urgent.add(task_id)

    # --- dispatch -------------------------------------------------------------------------
    async def dispatch(self) -> None:
        if self.link.state != UP:
            return  # nothing is sent on a link that is down or resyncing
        if await self.outbox.behind():
            # The database does not know yet how earlier attempts ended: a task would look
            # due whose citizen was reached a moment ago.
            return
        now = datetime.fromtimestamp(self.clock() / 1000, UTC)
        open_hours = within(self.settings.hours, self.settings.tz, now)
        if not open_hours and not self._urgent:
            return
        only = None if open_hours else set(self._urgent)
        busy = {run.task_id for run in self._runs.values()}
        for task in await store.due_tasks(self.sessions, self.city, now, self.settings.batch, only):
            if task.id in busy:
                continue
            await self._try(task, now)

    async def _try(self, task: CallbackTask, now: datetime) -> None:
        reason = self.settings.outbound.reason(task.number)
        if reason is not None:  # never dialled, and the dispatcher sees why
            await self._refuse(task, reason, now)
            return
        claimed = await self.claim(task)
        if claimed is None:
            return
        key, seat_id, endpoint = claimed
        attempt = task.attempts + 1
        if not await store.begin(self.sessions, task, key, self.city, seat_id, now):
            await self._release(key, task.id)  # another process began this attempt first
            return
        self._urgent.discard(task.id)
        run = _Run(key, task.id, attempt, task.number, seat_id, endpoint, started_at=now)
        self._runs[key] = run
        log.info(
            "callbacks %s: call %s task %d attempt %d: seat %s, citizen %s",
            self.city, task.call_id, task.id, attempt, seat_id, mask_phone(task.number),
        )  # fmt: skip
        await self._tell_seat(run, task)
        await self._originate(run, task)

    async def _refuse(self, task: CallbackTask, reason: str, now: datetime) -> None:
        async with self.sessions.begin() as session:
            row = await session.get(CallbackTask, task.id)
            if row is None or row.status != "open":
                return
            row.status, row.closed_at, row.reason = "failed", now, reason[:100]
        log.warning(
            "callbacks %s: call %s task %d not dialled: %s",
            self.city, task.call_id, task.id, reason,
        )  # fmt: skip

    async def claim(self, task: CallbackTask) -> tuple[str, str, str] | None:
        """Claim the task's next attempt and reserve a seat for it: (key, seat, endpoint),
        or None when no seat may take it now or another process holds the task."""
        attempt = task.attempts + 1
        key = f"{keys.CALLBACK_PSEUDO_PREFIX}{task.id}-{attempt}"
        skills = [Skill.callback.value]
        virtual = 0
        if task.source == "overload" and task.skill != Skill.callback:
            skills.append(task.skill)
            virtual = _ms(task.created_at)
        res = await self.acd.scripts.callback_claim(
            keys=[keys.callback_running(task.id)],
            args=[
                key,
                self.clock(),
                keys.ACD_KEY_PREFIX,
                self.settings.claim_ttl_s * 1000,
                self.city,
                task.skill,
                task.number,
                virtual,
                PRIORITY_STEP,
                task.seat_id or "",
                *skills,
            ],
        )
        if res[0] != "ok":
            return None
        return key, str(res[1]), str(res[2])

    async def _originate(self, run: _Run, task: CallbackTask) -> None:
        waited = int(task.waited_s)
        try:
            action = act.originate(
                run.endpoint,
                context="callback",
                exten=run.number,
                caller_id=f'"回拨 等待{waited}秒" <{run.number}>',
                timeout_ms=max(1, self.settings.seat_ring_s) * 1000,
                variables={
                    "HL_TASK": f"{run.task_id}-{run.attempt}",
                    "CITY": self.city,
                    "HL_CALLID": task.call_id or "",
                    "RING_TIMEOUT": str(self.settings.citizen_ring_s),
                    "HL_REC": run.recording_base(self.settings.recordings),
                },
                idempotency_key=run.key,
            )
        except act.ActionValueError as exc:  # e.g. a number that is not a number
            log.warning("callbacks %s: task %d cannot be dialled: %s", self.city, run.task_id, exc)
            await self._close(run, "failed", None)
            return
        try:
            await self.link.send(action)
            self.sent.append(run.key)
        except act.AmiError as exc:
            log.warning("callbacks %s: %s refused: %s", self.city, run.key, exc)
            await self._close(run, "lost", None)  # Asterisk refused it: nobody rang
        except (act.ActionNotSent, TimeoutError, DuplicateOriginate) as exc:
            # Perhaps Asterisk runs it: never re-send; the resync and AstDB will tell.
            self.sent.append(run.key)
            log.warning("callbacks %s: %s not confirmed: %s", self.city, run.key, exc)

    async def _tell_seat(self, run: _Run, task: CallbackTask) -> None:
        """The seat's page pops the callback: the citizen's number and the original wait."""
        body = {
            "type": "callback",
            "task_id": task.id,
            "attempt": run.attempt,
            "number": task.number,
            "waited_s": task.waited_s,
            "call_id": task.call_id or "",
            "created_at": task.created_at.isoformat(),
        }
        try:
            await self.redis.publish(notify.channel(self.redis, run.seat_id), json.dumps(body))
        except Exception as exc:  # the pop-up is a convenience; the call goes on
            log.warning("callbacks %s: seat event for %s lost: %s", self.city, run.key, exc)

    # --- events ---------------------------------------------------------------------------
    def _by_leg(self, call_id: str) -> _Run | None:
        for run in self._runs.values():
            if run.leg_id == call_id:
                return run
        return None

    async def _handle(self, event: ce.CallEvent) -> None:
        if isinstance(event, ce.OriginateResult):
            await self._originate_result(event)
        elif isinstance(event, ce.CallUserEvent):
            await self._user_event(event)
        elif isinstance(event, ce.SeatAnswered):
            run = self._by_leg(event.call_id)
            if run is not None:
                run.answered, run.answered_at = True, self.now()
                await self._mark(run.key, answered_at=run.answered_at)
            self._fallback.pop(event.call_id, None)  # the fallback queue answered it
        elif isinstance(event, ce.SeatNotAnswered):
            run = self._by_leg(event.call_id)
            if run is not None:
                await self._close(run, store.outcome_of(event.dial_status), event.dial_status)
        elif isinstance(event, ce.CallerHungUp):
            await self._leg_gone(event.call_id)
            await self._missed(event.call_id)
        elif isinstance(event, ce.CallResynced):
            self._resynced(event)
        elif isinstance(event, ce.ResyncComplete):
            await self._after_resync(set(event.calls))

    async def _originate_result(self, event: ce.OriginateResult) -> None:
        key = event.action_id.rpartition("orig-")[2]
        run = self._runs.get(key)
        if run is None:
            return
        if event.response == "Success":
            run.leg_id = event.call_id
            await self._mark(key, seat_answered_at=self.now(), leg_id=run.leg_id)
            with contextlib.suppress(InvalidTransition):  # a resync found it talking already
                await self.acd.answered(key)
            return
        if event.reason in (0, 1):
            # No channel at all (Uniqueid <unknown> at once): the seat's phone cannot be
            # called. Not a missed ring: its own outcome and pause reason, then another seat.
            log.warning(
                "callbacks %s: %s: seat %s unreachable (Originate Reason %d)",
                self.city, key, run.seat_id, event.reason,
            )  # fmt: skip
            await self._close(run, store.SEAT_UNREACHABLE, None)
            pause = self.acd.pause_unreachable
        else:
            await self._close(run, "seat_noanswer", None)
            pause = self.acd.pause_missed
        if event.reason in (0, 1, 3, 5):  # not picked up, busy, or not reachable at all
            try:
                await pause(run.seat_id)
            except Exception as exc:
                log.info("callbacks %s: seat %s not paused: %s", self.city, run.seat_id, exc)

    async def _user_event(self, event: ce.CallUserEvent) -> None:
        if event.name == "HotlineFallback":
            call = self.link.pipeline.tracker.calls.get(event.call_id)
            if call is not None and call.caller_num:
                waited = float(event.fields.get("Waited") or 0)
                self._fallback[event.call_id] = (call.caller_num, waited)
            return
        if event.name not in ("CallbackDial", "CallbackResult"):
            return
        key = f"{keys.CALLBACK_PSEUDO_PREFIX}{event.fields.get('Task', '')}"
        run = self._runs.get(key)
        if run is None:
            return
        if run.leg_id is None:
            run.leg_id = event.call_id
        if event.name == "CallbackDial":
            run.dialled = True
            await self._mark(key, dialled_at=self.now(), leg_id=run.leg_id)
            return
        status = event.fields.get("DialStatus", "")
        await self._close(run, store.outcome_of(status), status)

    async def _leg_gone(self, call_id: str) -> None:
        run = self._by_leg(call_id)
        if run is None:
            return
        # Hung up without a result (the seat hung up first, so the dialplan stopped): the
        # citizen was reached if it answered; else, once it rang, the attempt failed.
        outcome = "connected" if run.answered else "failed" if run.dialled else "seat_noanswer"
        await self._close(run, outcome, "ANSWER" if run.answered else None)
        self._runs.pop(run.key, None)

    async def _missed(self, call_id: str) -> None:
        """A caller the dialplan queued by itself (HotlineFallback) hung up unanswered: it
        could not be taken at all, so it is called back."""
        item = self._fallback.pop(call_id, None)
        if item is None:
            return
        number, waited = item
        live = await self.acd.redis.exists(keys.acd_call(call_id))
        skill = Skill.general.value
        await self.outbox.write(
            "callback_create",
            number=number,
            city=self.city,
            skill=skill,
            source="missed",
            call_id=call_id,
            waited_s=waited,
            at=self.now(),
            daily_limit=callbacks.DAILY_LIMIT,
        )
        log.info("callbacks %s: call %s missed (acd held it: %s)", self.city, call_id, live)

    def _resynced(self, event: ce.CallResynced) -> None:
        """A live channel after a (re)connect: is it the seat leg of one of our attempts?"""
        for run in self._runs.values():
            if run.leg_id == event.call_id:
                return
        for run in self._runs.values():
            # The seat leg shows the citizen's number as its caller id (see _originate).
            if run.leg_id is None and event.caller_num == run.number:
                run.leg_id = event.call_id
                return

    async def _after_resync(self, live: set[str]) -> None:
        for run in list(self._runs.values()):
            if run.leg_id is not None and run.leg_id in live:
                continue
            await self._settle_from_astdb(run)

    async def _settle_from_astdb(self, run: _Run) -> None:
        """The attempt's call is not up: what became of it is in AstDB (or it never ran)."""
        try:
            value = await self.link.db_get(ASTDB_FAMILY, run.key)
        except (act.ActionNotSent, TimeoutError) as exc:
            log.warning("callbacks %s: cannot settle %s yet: %s", self.city, run.key, exc)
            return
        if value is None:  # no entry: the citizen was never dialled
            await self._close(run, "lost", None)
        elif value in ("DIALLING", "CANCEL"):
            await self._close(run, "failed", None)
        else:
            await self._close(run, store.outcome_of(value), value)
        self._runs.pop(run.key, None)

    # --- closing --------------------------------------------------------------------------
    async def _mark(
        self,
        key: str,
        *,
        seat_answered_at: datetime | None = None,
        leg_id: str | None = None,
        dialled_at: datetime | None = None,
        answered_at: datetime | None = None,
    ) -> None:
        await self.outbox.write(
            "callback_mark",
            key=key,
            seat_answered_at=seat_answered_at,
            leg_id=leg_id,
            dialled_at=dialled_at,
            answered_at=answered_at,
        )

    async def _close(self, run: _Run, outcome: str, dial_status: str | None) -> None:
        status = await self.outbox.write(
            "callback_finish",
            key=run.key,
            outcome=outcome,
            at=self.now(),
            dial_status=dial_status,
            max_attempts=self.settings.max_attempts,
            backoff_s=float(self.settings.backoff_s),
        )
        if status is QUEUED:
            log.info(
                "callbacks %s: task %d attempt %d: %s (%s); kept until the database answers",
                self.city, run.task_id, run.attempt, outcome, dial_status or "-",
            )  # fmt: skip
        elif status is not None:
            log.info(
                "callbacks %s: task %d attempt %d: %s (%s); task %s",
                self.city, run.task_id, run.attempt, outcome, dial_status or "-", status,
            )  # fmt: skip
        await self._release(run.key, run.task_id)
        self._runs.pop(run.key, None)
        if outcome == "connected":
            await self._record_call(run)
            started = run.started_at or self.now()
            # Indexed once MixMonitor has closed the files; a run's key is the call id.
            await self.indexer.submit(Ended(run.key, run.seat_id, started, started))

    async def _record_call(self, run: _Run) -> None:
        try:
            answered_at = run.answered_at
            if answered_at is None:  # a run taken over from a stopped runner
                with contextlib.suppress(Exception):
                    attempt = await store.attempt(self.sessions, run.key)
                    answered_at = attempt.answered_at if attempt else None
            await self.outbox.write(
                "callback_call",
                key=run.key,
                city=self.city,
                number=run.number,
                seat_id=run.seat_id,
                started_at=run.started_at or self.now(),
                answered_at=_aware(answered_at) if answered_at else None,
                ended_at=self.now(),
            )
        except Exception:  # the attempt's own row is the callback's truth; this is for QA
            reraise_if_cancelled()
            log.exception("callbacks %s: %s: its call record failed", self.city, run.key)

    async def _release(self, key: str, task_id: int) -> None:
        """The seat back (wrap-up after a talk, ready after a ring) and the claim dropped."""
        await self.acd.ended(key, wrapup_s=self.settings.wrapup_s)
        await self.redis.delete(keys.callback_running(task_id))

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock() / 1000, UTC)
