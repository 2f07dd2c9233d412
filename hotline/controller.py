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

from acd.controller import AcdController, AcdSettings
from acd.service import Acd
from acd.stats import Stats
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
    return link, controller


async def run_controller(
    city: City, settings: Settings, redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    link, controller = build(city, settings, redis, sessions)
    await link.start()
    try:
        await controller.run()
    finally:
        await link.close()
