"""One controller per city: the AMI link, its state in Redis, and the domain handlers.

The wiring is here (the composition root): ``build`` makes a city's parts by constructor
injection and subscribes one dispatch to the call tracker; what happens on each event lives in
the domain packages: ivr parses what the dialplan reports, acd decides who answers, recording
indexes and asr transcribes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks.runner import CallbackRunner, CallbackSettings
from acd.callbacks.visits import VisitRunner, VisitSettings
from acd.calls import durable
from acd.calls.transfers import Transfers
from acd.commands.loop import CommandLoop
from acd.controller import AcdController, AcdSettings
from acd.queue.scripts import unfenced
from acd.queue.service import Acd
from acd.queue.stats import Stats
from asr.queueing import job_queuer
from hotline.settings import City, Settings
from ivr.events import EventError, parse_callback, parse_route
from pbx import callevents as ce
from pbx.link import AmiLink
from recording.indexer import Indexer
from store import keys
from store.lease import Lease
from store.outbox import Outbox

log = logging.getLogger(__name__)
HOLDER = f"pid {os.getpid()} on {socket.gethostname()}"


def link_for(city: City, redis: Redis | None, lease: Lease | None = None) -> AmiLink:
    """An AmiLink whose every state change is written to Redis for /health and the wallboard.
    With a lease, the link sends only while the lease is held, and only the holder writes the
    state (a deposed controller closing its link must not mark the city's link down)."""

    def on_state(state: str, detail: str) -> Awaitable[None] | None:
        if redis is None or (lease is not None and not lease.holds()):
            return None
        since = datetime.now(UTC).isoformat(timespec="seconds")
        mapping = {"state": state, "detail": detail, "since": since}
        if lease is not None:
            mapping["role"] = f"active, fencing token {lease.token}, {HOLDER}"
        return _write(redis, city.name, mapping)

    return AmiLink(
        city.name,
        city.ami.host,
        city.ami.port,
        city.ami.username,
        city.ami.secret,
        on_state=on_state,
        may_send=lease.holds if lease is not None else None,
        until_may_send=lease.ready if lease is not None else None,
    )


async def _write(redis: Redis, city: str, mapping: dict[str, str]) -> None:
    try:
        await redis.hset(keys.ami_link(city), mapping=mapping)  # type: ignore[arg-type]
    except Exception as exc:  # a Redis hiccup must not take the controller down
        log.warning("ami %s: cannot record link state: %s", city, exc)


@dataclass
class CityRuntime:
    """Everything one city's controller runs, built by ``build`` and started by ``run``.

    One tracker subscriber (``dispatch``) hands each call event to the parts, in this order:
    the ACD controller (routing, call records), the callback runner, the transfers, the
    automated return visits. Each part
    queues the event and handles it in its own loop, so the order is the order in which each
    sees the events, and one part's slow handler never holds up another.
    """

    city: str
    link: AmiLink
    controller: AcdController
    callbacks: CallbackRunner
    transfers: Transfers
    commands: CommandLoop
    visits: VisitRunner
    cities: tuple[str, ...]
    outbox: Outbox  # record and callback writes waiting for the database (store.outbox)

    def dispatch(self, event: ce.CallEvent) -> None:
        if isinstance(event, ce.CallParked):
            try:
                route = parse_route(event.fields, self.cities)
            except EventError as exc:
                log.warning("ami %s: HotlineRoute refused: %s", self.city, exc)
            else:
                self.controller.route(route, event.channel, event.at_ms)
        elif isinstance(event, ce.CallUserEvent) and event.name == "CallbackAccepted":
            try:
                request = parse_callback(event.fields, self.cities)
            except EventError as exc:
                log.warning("ami %s: CallbackAccepted refused: %s", self.city, exc)
            else:
                self.controller.callback_accepted(request, event.at_ms)
        else:
            self.controller.on_event(event)
        self.callbacks.on_event(event)
        self.transfers.on_event(event)
        self.visits.on_event(event)

    async def run(self, tick_s: float = 0.5) -> None:
        """The parts' loops, until cancelled; one that fails stops the others (and the city's
        process, whose supervisor restarts it), instead of the city running half-wired."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.controller.run(tick_s))
            group.create_task(self.callbacks.run(tick_s))
            group.create_task(self.transfers.run(tick_s))
            group.create_task(self.commands.run(tick_s))
            group.create_task(self.visits.run(tick_s))
            group.create_task(self.outbox.run())


def build(
    city: City,
    settings: Settings,
    redis: Redis,
    sessions: async_sessionmaker[AsyncSession],
    acd_settings: AcdSettings | None = None,
    callback_settings: CallbackSettings | None = None,
    lease: Lease | None = None,
) -> CityRuntime:
    """The city's parts; with a lease, every AMI action and ACD script is fenced by it."""
    link = link_for(city, redis, lease)
    names = tuple(c.name for c in settings.cities)
    acd = Acd(
        redis,
        cities=names,
        trunks={c.name: c.trunk for c in settings.cities if c.trunk},
        fence=lease.fence if lease is not None else unfenced,
        fence_ready=lease.ready if lease is not None else None,
    )
    acd_cfg = acd_settings or _acd_settings(city, settings)
    cb_cfg = callback_settings or _callback_settings(city, settings)
    # What follows indexing a call's recordings: its ASR jobs (recording/ knows no ASR).
    after_index = job_queuer(sessions, redis)
    outbox = durable.outbox(redis, city.name, sessions)
    controller = AcdController(
        city.name,
        link,
        acd,
        Stats(redis, tz=city.timezone),
        sessions,
        acd_cfg,
        indexer=Indexer(
            sessions,
            redis,
            city.name,
            acd_cfg.recordings,
            keep_mixed=acd_cfg.keep_mixed,
            settle_s=acd_cfg.index_settle_s,
            after_index=after_index,
        ),
        outbox=outbox,
    )
    callbacks = CallbackRunner(
        city.name,
        link,
        acd,
        sessions,
        cb_cfg,
        controller.clock,
        indexer=Indexer(
            sessions,
            redis,
            city.name,
            cb_cfg.recordings,
            owner="callbacks",
            keep_mixed=cb_cfg.keep_mixed,
            settle_s=cb_cfg.index_after_s,
            after_index=after_index,
        ),
        outbox=outbox,
    )
    transfers = Transfers(
        city.name,
        link,
        acd,
        sessions,
        controller.handed_over,
        cb_cfg.tz,
        controller.clock,
        outbound=cb_cfg.outbound,  # one policy for every number dialled out
    )
    runtime = CityRuntime(
        city.name,
        link,
        controller,
        callbacks,
        transfers,
        CommandLoop(city.name, redis, transfers, callbacks),
        VisitRunner(city.name, link, sessions, visit_settings(cb_cfg), controller.clock),
        names,
        outbox,
    )
    link.pipeline.tracker.subscribe(runtime.dispatch)
    return runtime


def _acd_settings(city: City, settings: Settings) -> AcdSettings:
    return AcdSettings(
        helpers=tuple(city.partners),
        recordings=str(settings.resolved_recordings_dir.resolve()),
        keep_mixed=settings.recordings_keep_mixed,
        overload_ewt_s=settings.acd.overload_ewt_s,
        overload_waiting=settings.acd.overload_waiting,
        stuck_ringing_s=settings.acd.stuck_ringing_s,
        stuck_busy_s=settings.acd.stuck_busy_s,
    )


def _callback_settings(city: City, settings: Settings) -> CallbackSettings:
    cfg = settings.callbacks
    start, end = cfg.hours.split("-")
    return CallbackSettings(
        hours=(start, end),
        tz=city.timezone,
        max_attempts=cfg.max_attempts,
        backoff_s=cfg.backoff_s,
        seat_ring_s=cfg.seat_ring_s,
        citizen_ring_s=cfg.citizen_ring_s,
        wrapup_s=cfg.wrapup_s,
        recordings=str(settings.resolved_recordings_dir.resolve()),
        keep_mixed=settings.recordings_keep_mixed,
        outbound=settings.outbound.policy(),
    )


def visit_settings(callbacks: CallbackSettings) -> VisitSettings:
    """Automated return visits ring citizens in the callback hours, with the same retries."""
    return VisitSettings(
        hours=callbacks.hours,
        tz=callbacks.tz,
        max_attempts=callbacks.max_attempts,
        backoff_s=callbacks.backoff_s,
        ring_s=callbacks.citizen_ring_s,
        outbound=callbacks.outbound,
    )
