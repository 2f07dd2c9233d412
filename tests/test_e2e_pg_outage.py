"""PostgreSQL stops mid-call and starts again: nothing the controller wrote meanwhile is lost.

The simulator, the real city runtime, and a PostgreSQL cluster of the test's own (the one
`make chaos` starts: chaos.services), stopped while a caller talks and another one waits and
gives up, then started. The controller keeps routing meanwhile (its process does not end);
once the database is back, both calls have their record and the caller who gave up their
callback task, each exactly once (docs/database-outage.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks.tables import CallbackTask
from acd.calls.tables import CallOffer, CallRecord
from acd.queue.types import Skill
from chaos.services import PG_BIN, PgCluster
from hotline.db import make_engine, session_factory, upgrade
from sim.engine import CallerScript, SeatBehaviour
from store import keys
from tests.calls_harness import city, record_where, wait_for, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("pg_outage"),
    pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason=f"no PostgreSQL in {PG_BIN}"),
    # One Redis is enough: the outbox is plain list commands, the same on either.
    pytest.mark.parametrize("redis_url", ["embedded"], indirect=True),
]


@pytest.fixture
async def cluster() -> AsyncIterator[PgCluster]:
    # Under /tmp as chaos does: as root, its directory is handed to the postgres user.
    root = Path(tempfile.mkdtemp(prefix="hotline-pg-outage-"))
    pg = PgCluster(root)
    try:
        await asyncio.to_thread(pg.init)
        await asyncio.to_thread(pg.start)
        await asyncio.to_thread(pg.createdb, "hotline")
        yield pg
    finally:
        await asyncio.to_thread(_stop_quietly, pg)
        shutil.rmtree(root, ignore_errors=True)


def _stop_quietly(pg: PgCluster) -> None:
    with contextlib.suppress(Exception):  # already stopped, or never started
        pg.stop("immediate")


async def _count(sessions: async_sessionmaker[AsyncSession], query: object) -> int:
    async with sessions() as session:
        return int(await session.scalar(query) or 0)  # type: ignore[call-overload]


async def test_records_and_callbacks_written_while_postgres_is_down(
    redis: Redis, cluster: PgCluster
) -> None:
    engine = make_engine(cluster.url("hotline"))
    await upgrade(engine)
    sessions = session_factory(engine)
    cut = await city(redis, sessions, {"1001": SeatBehaviour(answer_after_s=0.1, talk_s=6.0)})
    await cut.seat("1001", Skill.general)
    ctl = await cut.start_controller()
    try:
        talker = cut.pbx.place_call(CallerScript("13800000001", "1", patience_s=30))
        await record_where(sessions, talker.linkedid, lambda r: r.answered_at is not None)

        await asyncio.to_thread(cluster.stop)  # mid-call
        # Comes while the only seat talks, waits, gives up: record and callback while down.
        waiter = cut.pbx.place_call(CallerScript("13800000002", "1", patience_s=1.0))
        await wait_for(lambda: len(cut.pbx.finished) == 2, timeout=30)  # both hung up
        assert await redis.llen(keys.db_outbox("xa")) > 0  # the outage was seen
        assert not ctl.task.done(), "the controller stopped while the database was down"
        await asyncio.to_thread(cluster.start)

        async def replayed() -> bool:
            return await redis.llen(keys.db_outbox("xa")) == 0

        await wait_until(replayed, timeout=30)
        talked = await record_where(sessions, talker.linkedid, lambda r: r.ended_at is not None)
        gave_up = await record_where(sessions, waiter.linkedid, lambda r: r.ended_at is not None)
        assert (talked.outcome, talked.seat_id) == ("completed", "1001")
        assert gave_up.outcome == "abandoned"
        for call_id in (talker.linkedid, waiter.linkedid):
            rows = select(func.count()).select_from(CallRecord).where(CallRecord.call_id == call_id)
            assert await _count(sessions, rows) == 1
        offers = select(func.count()).select_from(CallOffer).where(CallOffer.result == "answered")
        assert await _count(sessions, offers) == 1
        tasks = select(CallbackTask.number, CallbackTask.call_id, CallbackTask.status)
        async with sessions() as session:
            found = (await session.execute(tasks)).all()
        assert [tuple(t) for t in found] == [("13800000002", waiter.linkedid, "open")]
        assert await redis.llen(keys.db_outbox_failed("xa")) == 0
        assert not ctl.task.done()
    finally:
        await cut.close()
        await engine.dispose()
