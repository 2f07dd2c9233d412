"""多援一 end to end: a city without free seats is helped by its partner over the trunk.

Two simulated PBXs speak AMI over real sockets; the statistics in Redis and the call records
in the database must tell the same story.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.calls import records
from acd.calls.tables import CallRecord
from acd.controller import AcdSettings
from acd.queue import overflow
from acd.queue.service import Acd
from acd.queue.stats import Stats
from acd.queue.types import SeatSpec, SeatState, Skill
from hotline.controller import build
from hotline.settings import AmiEndpoint, City, Settings
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SeatBehaviour, SimPbx
from tests.calls_harness import record_ended, wait_until
from tests.test_e2e_acd import wait_for


async def test_overflow_to_partner_city_and_stats_agree_with_records(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    xa = SimPbx("xa", {"1001": SeatBehaviour(answer_after_s=0.1, talk_s=1.0)})
    xy = SimPbx("xy", {"2001": SeatBehaviour(answer_after_s=0.1, talk_s=0.2)})
    xa.remote_seats.update(xy.seats)
    servers = [AmiServer(xa, secret="s"), AmiServer(xy, secret="s")]
    ports = [await s.start() for s in servers]
    cities = [
        City(
            name="xa", ami=AmiEndpoint(port=ports[0], secret="s"), trunk="trunk-xa", partners=["xy"]
        ),
        City(
            name="xy", ami=AmiEndpoint(port=ports[1], secret="s"), trunk="trunk-xy", partners=["xa"]
        ),
    ]
    settings = Settings(cities=cities)
    acd = Acd(redis, cities=("xa", "xy"))
    await overflow.configure(
        redis,
        "xa",
        ("xy",),
        overflow.OverflowRule(
            wait_s=0.3, ewt_s=None, callers_per_ready=None, all_cities_wait_s=None
        ),
    )
    await overflow.configure(
        redis,
        "xy",
        ("xa",),
        overflow.OverflowRule(
            wait_s=None, ewt_s=None, callers_per_ready=None, all_cities_wait_s=None
        ),
    )
    for seat_id, city in (("1001", "xa"), ("2001", "xy")):
        await acd.login(SeatSpec(seat_id, city, {Skill.general: 1}, f"PJSIP/{seat_id}"))
        await acd.ready(seat_id)
    runners, links = [], []
    for city in cities:
        runtime = build(
            city, settings, redis, sessions, AcdSettings(ring_timeout_s=2, wrapup_s={"general": 5})
        )
        link = runtime.link
        await link.start()
        await link.wait_up(20)
        links.append(link)
        runners.append(asyncio.create_task(runtime.run(tick_s=0.1)))
    first = xa.place_call(CallerScript("13800000001", "1", patience_s=30))

    async def first_taken() -> bool:  # 1001 rings or talks with the first caller
        return (await acd.seat("1001")).state in (SeatState.ringing, SeatState.busy)

    await wait_until(first_taken)
    second = xa.place_call(CallerScript("13800000002", "1", patience_s=30))
    menu = xa.place_call(CallerScript("13800000003", "1", hangs_up_in_menu=True))
    await wait_for(lambda: len(xa.finished) == 3)
    for call in (first, second, menu):  # the controllers have handled the hang-ups
        await record_ended(sessions, call.linkedid)
    for runner in runners:
        runner.cancel()
    await asyncio.gather(*runners, return_exceptions=True)
    for link in links:
        await link.close()
    for server in servers:
        await server.stop()

    one = await records.get_record(sessions, first.linkedid)
    two = await records.get_record(sessions, second.linkedid)
    assert (one.seat_id, one.answer_city, one.overflowed) == ("1001", "xa", False)
    assert (two.seat_id, two.answer_city, two.overflowed) == ("2001", "xy", True)
    assert [o.seat_city for o in two.offers] == ["xy"]
    gone = await records.get_record(sessions, menu.linkedid)
    assert gone.outcome == "ivr_hangup" and gone.queued_at is None

    stats = Stats(redis)
    now = acd.clock()
    # The last hour, not "today": a run across midnight in Shanghai must not split the counts.
    xa_today = await stats.window("xa", "general", now, 60)
    xy_today = await stats.window("xy", "general", now, 60)
    async with sessions() as session:
        rows = (await session.scalars(select(CallRecord))).all()
    queued = [r for r in rows if r.queued_at is not None]
    assert xa_today.offered == len(queued) == 2
    assert xa_today.answered == sum(r.answered_at is not None for r in queued) == 2
    assert xa_today.overflow_out == sum(r.overflowed for r in queued) == 1
    assert xy_today.overflow_in == 1
