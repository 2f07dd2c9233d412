"""One controller per city: the AMI link, its state in Redis, and the domain handlers.

The wiring is here (the composition root); what happens on each event lives in the domain
packages: ivr parses what the dialplan reports, acd decides who answers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callback_runner import CallbackRunner, CallbackSettings
from acd.command_loop import CommandLoop
from acd.controller import AcdController, AcdSettings
from acd.service import Acd
from acd.stats import Stats
from acd.transfers import Transfers
from acd.visit_runner import VisitRunner, VisitSettings
from hotline.settings import City, Settings
from ivr.events import EventError, parse_route
from pbx import callevents as ce
from pbx.link import AmiLink
from store import keys

log = logging.getLogger(__name__)


def link_for(city: City, redis: Redis | None) -> AmiLink:
    """An AmiLink whose every state change is written to Redis for /health and the wallboard."""

    def on_state(state: str, detail: str) -> Awaitable[None] | None:
        if redis is None:
            return None
        since = datetime.now(UTC).isoformat(timespec="seconds")
        return _write(redis, city.name, {"state": state, "detail": detail, "since": since})

    return AmiLink(
        city.name,
        city.ami.host,
        city.ami.port,
        city.ami.username,
        city.ami.secret,
        on_state=on_state,
    )


async def _write(redis: Redis, city: str, mapping: dict[str, str]) -> None:
    try:
        await redis.hset(keys.ami_link(city), mapping=mapping)  # type: ignore[arg-type]
    except Exception as exc:  # a Redis hiccup must not take the controller down
        log.warning("ami %s: cannot record link state: %s", city, exc)


def build(
    city: City,
    settings: Settings,
    redis: Redis,
    sessions: async_sessionmaker[AsyncSession],
    acd_settings: AcdSettings | None = None,
    callback_settings: CallbackSettings | None = None,
) -> tuple[AmiLink, AcdController]:
    link = link_for(city, redis)
    names = tuple(c.name for c in settings.cities)
    acd = Acd(redis, cities=names, trunks={c.name: c.trunk for c in settings.cities if c.trunk})
    stats = Stats(redis, tz=city.timezone)
    controller = AcdController(
        city.name,
        link,
        acd,
        stats,
        sessions,
        acd_settings
        or AcdSettings(
            helpers=tuple(city.partners),
            recordings=str(settings.resolved_recordings_dir.resolve()),
            keep_mixed=settings.recordings_keep_mixed,
            overload_ewt_s=settings.acd.overload_ewt_s,
            overload_waiting=settings.acd.overload_waiting,
            stuck_ringing_s=settings.acd.stuck_ringing_s,
            stuck_busy_s=settings.acd.stuck_busy_s,
        ),
    )

    def hand_off(event: ce.CallEvent) -> None:
        if not isinstance(event, ce.CallParked):
            return
        try:
            req = parse_route(event.fields, names)
        except EventError as exc:
            log.warning("ami %s: HotlineRoute refused: %s", city.name, exc)
            return
        controller.enqueue_route(
            req.call_id, req.skill, req.priority, event.channel, req.caller_num, req.path
        )

    link.pipeline.tracker.subscribe(controller.on_event)
    link.pipeline.tracker.subscribe(hand_off)
    wire_calls(controller, callback_settings or _callback_settings(city, settings))
    return link, controller


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


def wire_calls(controller: AcdController, callback_settings: CallbackSettings) -> None:
    """Callbacks, transfers and supervisor monitoring run beside the ACD, on the same link."""
    runner = CallbackRunner(
        controller.city,
        controller.link,
        controller.acd,
        controller.sessions,
        callback_settings,
        controller.clock,
    )
    transfers = Transfers(
        controller.city,
        controller.link,
        controller.acd,
        controller.sessions,
        controller.handed_over,
        callback_settings.tz,
        controller.clock,
        outbound=callback_settings.outbound,  # one policy for every number dialled out
    )
    requests = CommandLoop(controller.city, controller.acd.redis, transfers, runner)
    visits = VisitRunner(
        controller.city,
        controller.link,
        controller.sessions,
        visit_settings(callback_settings),
        controller.clock,
    )
    for part in (runner, transfers, visits):
        controller.link.pipeline.tracker.subscribe(part.on_event)
    controller.loops += [runner.run, transfers.run, requests.run, visits.run]
    controller.callbacks, controller.transfers = runner, transfers


async def run_controller(
    city: City, settings: Settings, redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    link, controller = build(city, settings, redis, sessions)
    await link.start()
    try:
        await controller.run()
    finally:
        await link.close()
