"""One AMI controller per city: the link, its state in Redis, and the call events it yields.

The domain handlers (ivr, acd, callbacks) subscribe to the tracker's call events here as
they are built; today the controller keeps the link up, resynced, and reported.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from redis.asyncio import Redis

from hotline.settings import City
from pbx.link import AmiLink
from store import keys

log = logging.getLogger(__name__)


def link_for(city: City, redis: Redis | None) -> AmiLink:
    """An AmiLink whose every state change is written to Redis for /health and the wallboard."""
    pending: set[asyncio.Task[None]] = set()

    def on_state(state: str, detail: str) -> None:
        if redis is None:
            return
        since = datetime.now(UTC).isoformat(timespec="seconds")
        mapping = {"state": state, "detail": detail, "since": since}
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # reported while the loop shuts down: nobody is left to read it
        task = loop.create_task(_write(redis, city.name, mapping))
        pending.add(task)  # keep a reference until it is done
        task.add_done_callback(pending.discard)

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


async def run_controller(city: City, redis: Redis) -> None:
    link = link_for(city, redis)
    await link.start()
    try:
        await asyncio.Event().wait()  # runs until cancelled
    finally:
        await link.close()
