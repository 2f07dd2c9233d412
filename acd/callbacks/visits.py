"""Automated return visits (自动语音回访): the citizen's phone is rung into [revisit-ivr] once
per attempt, and the key pressed is written to the ticket.

Each tick, queued visits that are due (within the visit hours, after their backoff) are begun
in the database (``visit_store.begin``: one process wins the attempt) and only then is the
Originate sent, its idempotency key ``rv-<visit>-<attempt>`` set as ActionID and channel
variable; the dialplan keeps AstDB ``hlrv/<key>`` and refuses to run a key twice. Nothing is
ever re-sent: an attempt nobody answered (OriginateResponse Failure) is queued again after a
backoff, up to ``max_attempts``, then left to the 回访台; an attempt whose end was missed (a
restart, a link drop) is settled from AstDB, and one that left no trace there goes to the
回访台 too rather than risk asking the citizen twice. The answer (UserEvent HotlineVisit) and
the ticket's 回访 step are written in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks import visit_store as store
from acd.callbacks.runner import within
from acd.callbacks.visit_tables import VisitCall
from acd.calls.dialable import OutboundPolicy
from ivr.events import EventError, parse_visit
from ivr.revisit import ASTDB_FAMILY, CONTEXT, EVENT
from pbx import actions as act
from pbx import callevents as ce
from pbx.link import UP, AmiLink
from store.privacy import mask_phone as mask
from store.tasks import get_within
from tickets.lifecycle import LifecycleError
from tickets.visits import BY_KEY, record_visit, visit_target

log = logging.getLogger(__name__)

KEY_PREFIX = "rv-"
_ACTION_PREFIX = "orig-" + KEY_PREFIX


@dataclass(frozen=True)
class VisitSettings:
    hours: tuple[str, str] = ("09:00", "20:00")  # local time of the city; nobody is rung at night
    tz: str = "Asia/Shanghai"
    max_attempts: int = 3  # attempts that rang the citizen, then the 回访台 takes over
    backoff_s: float = 1800.0  # before the 2nd attempt; doubled after each further one
    ring_s: int = 30
    settle_after_s: float = 300.0  # an attempt with no end seen by then is settled from AstDB
    batch: int = 10
    caller_id: str = '"12345回访" <12345>'
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)

    @property
    def retry(self) -> store.Retry:
        return store.Retry(self.max_attempts, self.backoff_s)


class VisitRunner:
    def __init__(
        self,
        city: str,
        link: AmiLink,
        sessions: async_sessionmaker[AsyncSession],
        settings: VisitSettings | None = None,
        clock: Callable[[], int] | None = None,
        cities: tuple[str, ...] | None = None,
    ) -> None:
        self.city = city
        self.link = link
        self.sessions = sessions
        self.settings = settings or VisitSettings()
        self.clock = clock or (lambda: int(datetime.now(UTC).timestamp() * 1000))
        self.cities = cities
        self._events: asyncio.Queue[ce.CallEvent] = asyncio.Queue()
        self.sent: list[str] = []  # idempotency keys of Originates sent (diagnostics, tests)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock() / 1000, UTC)

    # --- input ----------------------------------------------------------------------------
    def on_event(self, event: ce.CallEvent) -> None:
        ours = isinstance(event, ce.OriginateResult) and _ACTION_PREFIX in event.action_id
        answer = isinstance(event, ce.CallUserEvent) and event.name == EVENT
        if ours or answer:
            self._events.put_nowait(event)

    async def run(self, tick_s: float = 0.5) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while True:
            event = await get_within(self._events, max(0.0, next_tick - loop.time()))
            try:
                if event is not None:
                    await self.handle(event)
                if loop.time() >= next_tick:
                    next_tick = loop.time() + tick_s
                    await self.dispatch()
                    await self.settle()
            except Exception:  # one bad event or tick must not stop the visits
                if (task := asyncio.current_task()) is not None and task.cancelling():
                    raise
                log.exception("visits %s: handling %r failed", self.city, event)

    # --- dispatch -------------------------------------------------------------------------
    async def dispatch(self) -> None:
        if self.link.state != UP:
            return  # nothing is sent on a link that is down or resyncing
        now = self.now()
        if not within(self.settings.hours, self.settings.tz, now):
            return
        for visit in await store.due(self.sessions, self.city, now, self.settings.batch):
            await self._try(visit, now)

    async def _still_due(self, visit: VisitCall) -> bool:
        """The reply this visit is about still waits for its visit (not visited at the desk
        meanwhile, nor reopened)."""
        async with self.sessions() as session:
            try:
                target = await visit_target(session, visit.ticket_id)
            except LifecycleError:
                return False
        return target.reply_round == visit.reply_round

    async def _try(self, visit: VisitCall, now: datetime) -> None:
        if not await self._still_due(visit):
            await store.cancel(self.sessions, visit.id, now)
            log.info("visits %s: visit %d no longer needed", self.city, visit.id)
            return
        key = f"{KEY_PREFIX}{visit.id}-{visit.attempts + 1}"
        if not await store.begin(self.sessions, visit, key, now):
            return  # another process began this attempt
        reason = self.settings.outbound.reason(visit.number)
        if reason is not None:
            log.warning("visits %s: visit %d not dialled: %s", self.city, visit.id, reason)
            await self._failed(visit.id, key, "refused")
            return
        try:
            action = act.originate(
                f"PJSIP/{visit.number}@pstn",
                context=CONTEXT,
                exten="s",
                caller_id=self.settings.caller_id,
                timeout_ms=max(1, self.settings.ring_s) * 1000,
                variables={
                    "CITY": self.city,
                    "HL_TICKET": str(visit.ticket_id),
                    "HL_VISIT": str(visit.id),
                },
                idempotency_key=key,
            )
        except act.ActionValueError as exc:
            log.warning("visits %s: visit %d cannot be dialled: %s", self.city, visit.id, exc)
            await self._failed(visit.id, key, "refused")
            return
        log.info(
            "visits %s: ticket %d visit %d attempt %d: citizen %s",
            self.city, visit.ticket_id, visit.id, visit.attempts + 1, mask(visit.number),
        )  # fmt: skip
        try:
            await self.link.send(action)
            self.sent.append(key)
        except act.AmiError as exc:  # Asterisk refused it: nobody rang
            log.warning("visits %s: %s refused: %s", self.city, key, exc)
            await self._failed(visit.id, key, "failed")
        except (act.ActionNotSent, TimeoutError) as exc:
            # Maybe sent, maybe not: never re-sent; settled from AstDB later.
            log.warning("visits %s: %s not confirmed: %s", self.city, key, exc)

    # --- outcome --------------------------------------------------------------------------
    async def handle(self, event: ce.CallEvent) -> None:
        if isinstance(event, ce.OriginateResult):
            key = event.action_id.rpartition("orig-")[2]  # the link may prefix ActionIDs
            if event.response.lower() != "success":
                outcome = store.OUTCOME_OF_REASON.get(event.reason, "failed")
                visit_id = int(key.removeprefix(KEY_PREFIX).split("-")[0])
                await self._failed(visit_id, key, outcome)
            return
        if isinstance(event, ce.CallUserEvent):
            try:
                answer = parse_visit(event.fields, self.cities)
            except EventError as exc:
                log.warning("visits %s: HotlineVisit refused: %s", self.city, exc)
                return
            await self.answer(answer.visit_id, answer.result)

    async def answer(self, visit_id: int, result: str) -> bool:
        """Write the answer and the ticket's 回访 step together; False if already recorded."""
        now = self.now()
        async with self.sessions() as session:
            visit = await session.get(VisitCall, visit_id)
            if visit is None:
                return False
            done = await session.execute(store.answered(visit_id, result, now))
            if not done.rowcount:  # type: ignore[attr-defined]
                return False  # recorded before (the event came twice, or AstDB settled it)
            if result not in BY_KEY:
                await session.commit()
                log.info(
                    "visits %s: visit %d: no key pressed, left to the desk", self.city, visit_id
                )
                return True
            try:
                await record_visit(
                    session, visit.ticket_id, visit.reply_round, BY_KEY[result], now=now
                )
            except LifecycleError as exc:
                await session.rollback()
                log.warning(
                    "visits %s: visit %d answered %s, the ticket refused it: %s",
                    self.city, visit_id, result, exc,
                )  # fmt: skip
                async with self.sessions.begin() as again:
                    await again.execute(store.answered(visit_id, result, now))
        log.info("visits %s: ticket %d visit %d: %s", self.city, visit.ticket_id, visit_id, result)
        return True

    async def _failed(self, visit_id: int, key: str, outcome: str) -> None:
        status = await store.failed(
            self.sessions, visit_id, key, outcome, self.settings.retry, self.now()
        )
        if status is not None:
            log.info("visits %s: %s %s -> %s", self.city, key, outcome, status)

    async def settle(self) -> None:
        """Attempts whose end was missed: what became of them is in AstDB, or nothing ran."""
        if self.link.state != UP:
            return
        cutoff = self.now() - timedelta(seconds=self.settings.settle_after_s)
        for visit in await store.calling(self.sessions, self.city):
            if visit.key is None or visit.started_at is None or visit.started_at > cutoff:
                continue
            try:
                value = await self.link.db_get(ASTDB_FAMILY, visit.key)
            except (act.ActionNotSent, TimeoutError) as exc:
                log.warning("visits %s: cannot settle %s yet: %s", self.city, visit.key, exc)
                return
            if value is None:  # no entry: the citizen was never asked
                await self._failed(visit.id, visit.key, "lost")
            elif value in (*BY_KEY, store.NO_ANSWER):
                await self.answer(visit.id, value)
            # ASKING: the citizen is still on the line (or Asterisk died mid-call): wait
