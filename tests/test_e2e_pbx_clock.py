"""A controller that reads its event stream late times callers by the PBX's clock.

Found by `make chaos` (row peak, 80,000 calls/h): the controller ran up to 40 s behind its
events and measured waits between the moments it handled them, so callers who gave up after
waiting long enough were judged younger and got no callback (and others, older). Here the
simulator holds its events for seconds, as that controller read them, and the controller,
Redis and the database are the production code on real servers.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks import tasks as callbacks
from acd.controller import AcdSettings
from sim.engine import CallerScript, SimPbx
from store import keys
from tests.calls_harness import (
    CityUnderTest,
    city,
    paired_backend,
    paired_database_url,
    paired_redis_url,
    record_ended,
    wait_for,
)

pytestmark = pytest.mark.slow
__all__ = ["paired_backend", "paired_database_url", "paired_redis_url"]

CITIZEN = "13800000001"
AFTER_S = 5.0  # the controller's callback_after_s here


def _emitted(pbx: SimPbx) -> dict[str, float]:
    """When the PBX emitted the caller's events (epoch s), by name."""
    out: dict[str, float] = {}

    def note(headers: list[tuple[str, str]]) -> None:
        h = dict(headers)
        if h.get("CallerIDNum") == CITIZEN:
            out.setdefault(h.get("UserEvent") or h["Event"], time.time())

    pbx.listen(note)
    return out


async def _started(redis: Redis, sessions: async_sessionmaker[AsyncSession]) -> CityUnderTest:
    c = await city(redis, sessions)  # no seat: whoever calls waits until they give up
    await c.start_controller(
        acd_settings=AcdSettings(ring_timeout_s=2, wrapup_s={}, callback_after_s=AFTER_S)
    )
    # Its first resync listed the channels (the link's, then the controller's own): a caller
    # placed before that would be found parked and queued by WAIT_START's whole second.
    await wait_for(lambda: [r.action for r in c.server.received].count("coreshowchannels") >= 2)
    return c


def _epoch(moment: datetime | None) -> float:
    assert moment is not None
    return moment.replace(tzinfo=UTC).timestamp()


async def test_a_caller_who_gave_up_is_called_back_though_read_late(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await _started(redis, sessions)
    emitted = _emitted(c.pbx)
    try:
        c.server.hold_events()  # the controller hears nothing of this caller...
        caller = c.pbx.place_call(CallerScript(CITIZEN, "1", patience_s=6.0))
        await wait_for(lambda: bool(c.pbx.finished))  # ...who waits 6 s and hangs up
        await asyncio.sleep(1.0)
        released = time.time()
        c.server.release_events()  # then reads it all at once
        record = await record_ended(sessions, caller.linkedid)
        task = await callbacks.open_task(sessions, CITIZEN)
    finally:
        await c.close()
    assert record.outcome == "abandoned"
    assert task is not None, "no callback task for a caller who waited 6 s"
    assert (task.source, task.call_id) == ("abandoned", caller.linkedid)
    assert task.waited_s == pytest.approx(6.0, abs=0.3)
    # The record's times are the PBX's, not the moment the controller read them.
    assert _epoch(record.entered_at) == pytest.approx(emitted["Newchannel"], abs=0.1)
    assert _epoch(record.queued_at) == pytest.approx(emitted["HotlineRoute"], abs=0.1)
    assert _epoch(record.ended_at) == pytest.approx(emitted["Hangup"], abs=0.1)
    assert released - _epoch(record.ended_at) > 0.9


async def test_a_caller_read_late_is_not_older_than_they_waited(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await _started(redis, sessions)
    try:
        caller = c.pbx.place_call(CallerScript(CITIZEN, "1", patience_s=2.0))

        async def queued() -> bool:
            return bool(await c.acd.redis.exists(keys.acd_call(caller.linkedid)))

        for _ in range(100):  # the controller queues the caller as it happens...
            if await queued():
                break
            await asyncio.sleep(0.05)
        c.server.hold_events()  # ...then falls behind: the hang-up 2 s on is read 6 s late
        await wait_for(lambda: bool(c.pbx.finished))
        await asyncio.sleep(AFTER_S)
        c.server.release_events()
        record = await record_ended(sessions, caller.linkedid)
        task = await callbacks.open_task(sessions, CITIZEN)
    finally:
        await c.close()
    assert record.outcome == "abandoned"
    assert task is None  # 2 s is not long enough to be owed a callback
    waited = _epoch(record.ended_at) - _epoch(record.queued_at)
    assert waited == pytest.approx(2.0, abs=0.3)
