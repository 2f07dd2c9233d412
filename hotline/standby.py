"""A city's controller as active or standby: run any number, one holds the city's lease.

A standby holds no AMI link and writes nothing: it waits for the lease (``store.lease``). Once
it holds it, it builds the city's runtime with every AMI action and ACD script fenced by the
lease, connects, and the link's resync and the ACD's reconcile adopt what the previous active
left (the same path as a restart). When the lease is lost (another process took it, e.g.
while this one was paused past it), the runtime is cancelled, the link closed, and the
process goes back to standby. A lease that only ran out while Redis was away is taken back
with the same token (``Lease.keep``) and the runtime goes on. docs/failover.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.controller import HOLDER, build
from hotline.settings import City, Settings
from store.lease import Lease, LeaseLost, LeaseTimes

log = logging.getLogger(__name__)


async def run_controller(
    city: City, settings: Settings, redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Standby until the lease is ours, active until it is lost, then standby again; ends
    (releasing the lease, so a standby takes over at once) when cancelled or the runtime
    fails."""
    lease = Lease(redis, city.name, LeaseTimes.from_ttl(settings.controller_lease_ms))
    try:
        while True:
            log.info("controller %s: standby (%s), waiting for the lease", city.name, HOLDER)
            token = await lease.acquire()
            log.info("controller %s: active, fencing token %d (%s)", city.name, token, HOLDER)
            await _active(city, settings, redis, sessions, lease)
            log.warning("controller %s: lease lost; back to standby", city.name)
    finally:
        with contextlib.suppress(RedisError, OSError):
            await asyncio.shield(lease.release())


async def _active(
    city: City,
    settings: Settings,
    redis: Redis,
    sessions: async_sessionmaker[AsyncSession],
    lease: Lease,
) -> None:
    """Runs the city while the lease is held; returns when it is lost. A runtime that fails
    while the lease is still held ends the process, as without a standby."""
    runtime = build(city, settings, redis, sessions, lease=lease)
    await runtime.link.start()
    run = asyncio.create_task(runtime.run(), name=f"city-{city.name}")
    keep = asyncio.create_task(lease.keep(), name=f"lease-{city.name}")
    try:
        await asyncio.wait({run, keep}, return_when=asyncio.FIRST_COMPLETED)
        if keep.done():
            keep.result()  # returned: the lease is lost; raised: a bug, the process ends
        elif not _lost(run.exception()):
            run.result()  # its failure ends the process (the supervisor restarts it)
            raise RuntimeError(f"controller {city.name}: the runtime ended by itself")
        lease.token = None  # a fenced write was refused: Redis says another holds it
    finally:
        for task in (run, keep):
            task.cancel()
        await asyncio.gather(run, keep, return_exceptions=True)
        await runtime.link.close()


def _lost(exc: BaseException | None) -> bool:
    """Whether the runtime stopped because a fenced write was refused (``LeaseLost``, which
    the loops re-raise, inside the TaskGroup's ExceptionGroup)."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(LeaseLost) is not None
    return isinstance(exc, LeaseLost)
