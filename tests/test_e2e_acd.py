"""End to end through the simulator: IVR route -> ACD decision -> Redirect -> seat -> records.

The simulator speaks AMI over a real socket; the controller, Redis and the database are the
production code on real servers.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.calls import records
from acd.controller import AcdSettings
from acd.queue.service import Acd
from acd.queue.stats import Stats
from acd.queue.types import SeatSpec, SeatState, Skill
from hotline.controller import build
from hotline.settings import AmiEndpoint, City, Settings
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SeatBehaviour, SimPbx
from tests.calls_harness import record_ended


async def wait_for(predicate, timeout: float = 40.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_calls_flow_through_ivr_acd_and_seats(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    pbx = SimPbx(
        "xa",
        {
            "1001": SeatBehaviour(answer_after_s=0.1, talk_s=0.3),
            "1002": SeatBehaviour(answer_after_s=None),
        },
    )
    server = AmiServer(pbx, secret="sim")
    port = await server.start()
    city = City(name="xa", ami=AmiEndpoint(port=port, secret="sim"), trunk="trunk-xa")
    settings = Settings(cities=[city])
    acd = Acd(redis, cities=("xa",))
    await acd.login(SeatSpec("1002", "xa", {Skill.general: 1}, "PJSIP/1002"))
    await acd.ready("1002")  # idle longest: offered first, never answers
    await asyncio.sleep(0.01)
    await acd.login(SeatSpec("1001", "xa", {Skill.general: 1}, "PJSIP/1001"))
    await acd.ready("1001")
    runtime = build(
        city, settings, redis, sessions, AcdSettings(ring_timeout_s=1, wrapup_s={"general": 0})
    )
    link = runtime.link
    await link.start()
    await link.wait_up(20)
    runner = asyncio.create_task(runtime.run(tick_s=0.1))
    calls = [
        pbx.place_call(CallerScript("13800000001", "1", patience_s=30)),
        pbx.place_call(CallerScript("13800000002", "2", patience_s=1.0)),  # no 政企通 seat
        pbx.place_call(CallerScript("13800000003", "1", patience_s=30)),
    ]
    await wait_for(lambda: len(pbx.finished) == 3)
    for call in calls:  # the controller has handled the hang-ups
        await record_ended(sessions, call.linkedid)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await link.close()
    await server.stop()

    outcome = {f["call_id"]: f["outcome"] for f in pbx.finished}
    ids = [c.linkedid for c in calls]
    assert [outcome[i] for i in ids] == ["answered", "abandoned", "answered"]
    first = await records.get_record(sessions, ids[0])
    assert first.outcome == "completed" and first.seat_id == "1001" and first.skill == "general"
    assert [(o.seat_id, o.result) for o in first.offers] == [
        ("1002", "noanswer"),
        ("1001", "answered"),
    ]
    second = await records.get_record(sessions, ids[1])
    assert second.outcome == "abandoned" and second.skill == "enterprise" and second.offers == []
    third = await records.get_record(sessions, ids[2])
    assert third.outcome == "completed" and third.seat_id == "1001"
    assert (await acd.seat("1002")).state is SeatState.paused  # paused after the missed call
    stats = Stats(redis)
    now = acd.clock()
    # The last hour, not "today": a run across midnight in Shanghai must not split the counts.
    general = await stats.window("xa", "general", now, 60)
    enterprise = await stats.window("xa", "enterprise", now, 60)
    assert (general.offered, general.answered, general.abandoned) == (2, 2, 0)
    assert (enterprise.offered, enterprise.answered, enterprise.abandoned) == (1, 0, 1)
