"""The controller dies and comes back: calls it held are still served or let go correctly."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd import records
from acd.controller import AcdSettings
from acd.model import SeatSpec, SeatState, Skill
from acd.service import Acd
from hotline.controller import build
from hotline.db import make_engine, session_factory
from hotline.settings import AmiEndpoint, City, Settings
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SeatBehaviour, SimPbx
from tests.calls_harness import record_ended, wait_until
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
        link, controller = build(city, settings, redis, own_sessions, AcdSettings(wrapup_s={}))
        await link.start()
        await link.wait_up(20)
        return link, asyncio.create_task(controller.run(tick_s=0.05))

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
