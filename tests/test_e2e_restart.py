"""The controller dies and comes back: calls it held are still served or let go correctly."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.calls import records
from acd.calls.tables import CallRecord
from acd.controller import AcdSettings
from acd.queue.service import Acd
from acd.queue.types import SeatSpec, SeatState, Skill
from hotline.controller import build
from hotline.db import make_engine, session_factory
from hotline.settings import AmiEndpoint, City, Settings
from recording.models import Recording
from recording.policy import base_path, speaker_files
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SeatBehaviour, SimPbx
from tests.calls_harness import record_ended, wait_until
from tests.conftest import AMI_FIXTURES
from tests.test_e2e_acd import wait_for


async def test_restart_mid_traffic(
    redis: Redis, sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    pbx = SimPbx("xa", {"1001": SeatBehaviour(answer_after_s=0.05, talk_s=0.1)})
    server = AmiServer(pbx, secret="s")
    city = City(name="xa", ami=AmiEndpoint(port=await server.start(), secret="s"))
    settings = Settings(cities=[city])
    acd = Acd(redis, cities=("xa",))
    await acd.login(SeatSpec("1001", "xa", {Skill.general: 1}, "PJSIP/1001"))  # paused: no seat yet

    async def start(own_sessions=sessions):
        runtime = build(city, settings, redis, own_sessions, AcdSettings(wrapup_s={}))
        link = runtime.link
        await link.start()
        await link.wait_up(20)
        return link, asyncio.create_task(runtime.run(tick_s=0.05))

    # The first controller is a process of its own: its own connections, gone when it dies.
    doomed_engine = make_engine(database_url)
    link, runner = await start(session_factory(doomed_engine))
    stays = pbx.place_call(CallerScript("13800000001", "1", patience_s=30))
    leaves = pbx.place_call(CallerScript("13800000002", "1", patience_s=30))
    await wait_for(lambda: len(pbx.live()) == 2)

    # Both queued (the controller got their HotlineRoute): polled, a fixed sleep lost the race
    # on a loaded machine.
    async def both_queued() -> bool:
        return await acd.active("xa") == {stays.linkedid, leaves.linkedid}

    await wait_until(both_queued)
    runner.cancel()  # the controller process dies
    await asyncio.gather(runner, return_exceptions=True)
    await link.close()
    await doomed_engine.dispose()
    pbx.hangup(leaves.name)  # one caller gives up while nobody watches
    await wait_for(lambda: len(pbx.finished) == 1)

    link, runner = await start()  # the restarted controller resyncs and reconciles
    left = await record_ended(sessions, leaves.linkedid)
    assert await acd.active("xa") == {stays.linkedid}
    assert left.outcome == "abandoned"
    await acd.ready("1001")  # now a seat is free: the call queued before the restart is served
    await wait_for(lambda: len(pbx.finished) == 2)
    await record_ended(sessions, stays.linkedid)  # written after the Hangup reaches it
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await link.close()
    await server.stop()
    record = await records.get_record(sessions, stays.linkedid)
    assert (record.outcome, record.seat_id) == ("completed", "1001")
    assert (await acd.seat("1001")).state in (SeatState.wrapup, SeatState.ready)
    assert await acd.active("xa") == set()


async def test_records_left_without_an_end_are_closed_on_restart(
    redis: Redis, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """A controller that died between letting a call go and writing its end, or calls that
    hung up in the menu while no controller ran: the next controller closes their records
    from how far each call got, and indexes the answered one's recordings. A live call and
    a call too young to judge keep theirs."""
    pbx = SimPbx("xa", {})
    server = AmiServer(pbx, secret="s")
    city = City(name="xa", ami=AmiEndpoint(port=await server.start(), secret="s"))
    root = tmp_path / "rec"
    settings = AcdSettings(wrapup_s={}, recordings=str(root))
    acd = Acd(redis, cities=("xa",))
    await acd.login(SeatSpec("1001", "xa", {Skill.general: 1}, "PJSIP/1001"))  # paused
    old = datetime.now(UTC) - timedelta(minutes=2)

    # A call that is up, with an old record (it has waited long): not an orphan.
    runtime = build(city, Settings(cities=[city]), redis, sessions, settings)
    link = runtime.link
    await link.start()
    await link.wait_up(20)
    runner = asyncio.create_task(runtime.run(tick_s=0.05))
    waiting = pbx.place_call(CallerScript("13800000001", "1", patience_s=60))

    async def queued() -> bool:
        return await acd.active("xa") == {waiting.linkedid}

    await wait_until(queued)
    async with sessions.begin() as s:
        await s.execute(
            update(CallRecord).where(CallRecord.call_id == waiting.linkedid).values(entered_at=old)
        )
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await link.close()

    # What no controller saw end, written once the first one is gone: written before it, they
    # were closed by its own resync, or not, when the test's cancel beat that resync.
    for call_id in ("gone-answered", "gone-queued", "gone-in-menu"):
        await records.call_entered(sessions, call_id, "xa", "13800000009", old)
    for call_id in ("gone-answered", "gone-queued"):
        await records.call_queued(sessions, call_id, "general", "1", old)
    await records.seat_offered(sessions, "gone-answered", "1001", "xa", False, old)
    await records.offer_result(sessions, "gone-answered", "answered", old)
    await records.call_entered(sessions, "young", "xa", "13800000008", datetime.now(UTC))
    base = base_path(root, "gone-answered", 1, old)
    for speaker, path in speaker_files(base).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(AMI_FIXTURES / f"mixmonitor_per_speaker-{_CAPTURE[speaker]}.wav", path)

    runtime = build(city, Settings(cities=[city]), redis, sessions, settings)
    link = runtime.link
    await link.start()
    await link.wait_up(20)
    runner = asyncio.create_task(runtime.run(tick_s=0.05))
    try:
        outcomes = {
            call_id: (await record_ended(sessions, call_id)).outcome
            for call_id in ("gone-answered", "gone-queued", "gone-in-menu")
        }

        async def indexed() -> bool:
            async with sessions() as s:
                found = await s.scalars(
                    select(Recording).where(Recording.call_id == "gone-answered")
                )
                return len(found.all()) == 3

        await wait_until(indexed)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await link.close()
        await server.stop()
    assert outcomes == {
        "gone-answered": "completed",
        "gone-queued": "abandoned",
        "gone-in-menu": "ivr_hangup",
    }
    for call_id in ("young", waiting.linkedid):
        assert (await records.get_record(sessions, call_id)).ended_at is None


_CAPTURE = {"caller": "in", "seat": "out", "mixed": "mixed"}
