"""Calls that arrive and end while no controller runs get their records and callbacks from the
dialplan's call journal after the restart, exactly once (chaos row controller_kill: they were
its `unseen` calls and its lost callbacks)."""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks.tables import CallbackTask
from acd.calls.tables import CallRecord
from pbx import journal as pj
from sim.ami_server import AmiServer
from sim.engine import CallerScript
from store import keys
from tests.calls_harness import (
    city,
    paired_backend,
    paired_database_url,
    paired_redis_url,
    record_ended,
    wait_for,
)

__all__ = ["paired_backend", "paired_database_url", "paired_redis_url"]


async def _tasks(sessions: async_sessionmaker[AsyncSession], number: str) -> int:
    async with sessions() as session:
        found = await session.scalar(
            select(func.count()).select_from(CallbackTask).where(CallbackTask.number == number)
        )
    return int(found or 0)


def _reads(server: AmiServer) -> int:
    return sum(1 for r in server.received if r.action == "dbgettree")


async def _records(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(CallRecord)) or 0)


async def test_calls_no_controller_saw_are_recorded_after_the_restart_once(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = await city(redis, sessions)
    try:
        first = await c.start_controller()
        await first.stop()  # killed: nobody hears the PBX now
        waited = c.pbx.place_call(CallerScript("13800000021", "1", patience_s=1.0))
        menu = c.pbx.place_call(CallerScript("13800000022", hangs_up_in_menu=True))
        await wait_for(lambda: waited.gone and menu.gone)
        assert len(c.pbx.astdb) == 2  # the hangup handler ran for both

        await c.start_controller()  # the restart's resync reads the journal
        gave_up = await record_ended(sessions, waited.linkedid)
        assert (gave_up.outcome, gave_up.skill, gave_up.caller_num) == (
            "abandoned",
            "general",
            "13800000021",
        )
        assert gave_up.queued_at is not None
        in_menu = await record_ended(sessions, menu.linkedid)
        assert in_menu.outcome == "ivr_hangup"
        assert await _tasks(sessions, "13800000021") == 1  # waited 1 s > callback_after_s
        assert await _tasks(sessions, "13800000022") == 0
        position = await redis.get(keys.ami_journal("xa"))
        assert position in (pj.hour_of(time.time()), pj.hour_of(time.time()).encode())

        # Another restart reads the same hour again: nothing is written twice.
        await c.controllers[-1].stop()
        reads = _reads(c.server)
        await c.start_controller()
        await wait_for(lambda: _reads(c.server) > reads)
        await asyncio.sleep(0.5)  # what that read would write
        assert await _records(sessions) == 2
        assert await _tasks(sessions, "13800000021") == 1
    finally:
        await c.close()
