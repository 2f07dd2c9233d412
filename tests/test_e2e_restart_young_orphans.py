"""A call that ended while no controller ran, too young at the restart's resync to be judged
an orphan, is closed a little later all the same (found by `make chaos`, row controller_kill:
such records stayed without an end until the link happened to reconnect)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import acd.controller
from acd.calls import records
from acd.controller import AcdSettings
from hotline.controller import build
from hotline.settings import AmiEndpoint, City, Settings
from sim.ami_server import AmiServer
from sim.engine import SimPbx
from tests.calls_harness import record_ended


async def test_a_young_orphan_is_closed_after_the_grace(
    redis: Redis, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(acd.controller, "ORPHAN_GRACE_S", 2)  # 30 s in production
    pbx = SimPbx("xa", {})
    server = AmiServer(pbx, secret="s")
    city = City(name="xa", ami=AmiEndpoint(port=await server.start(), secret="s"))
    # Hung up in the menu a moment ago, while the controller was down: no live channel.
    await records.call_entered(sessions, "young", "xa", "13800000008", datetime.now(UTC))
    runtime = build(city, Settings(cities=[city]), redis, sessions, AcdSettings(wrapup_s={}))
    await runtime.link.start()
    await runtime.link.wait_up(20)
    runner = asyncio.create_task(runtime.run(tick_s=0.05))
    try:
        record = await record_ended(sessions, "young", timeout=10)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await runtime.link.close()
        await server.stop()
    assert record.outcome == "ivr_hangup"
