"""The traffic generator: arrival rates, caller and seat draws, and seat operators at work."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.controller import AcdSettings
from acd.queue.service import Acd
from acd.queue.types import SeatState, Skill
from hotline.controller import build
from hotline.demo import DEMO_CITIES
from hotline.redis import EmbeddedRedis
from hotline.settings import AmiEndpoint, City, Settings
from loadgen.seats import DirectAcdSeats
from loadgen.traffic import CityProfile, SeatProfile, Traffic, next_gap
from pbx.link import AmiLink
from sim.ami_server import AmiServer
from sim.engine import SimPbx
from store import keys

SEAT = SeatProfile("1001", {Skill.general: 1})
# 10:00 and 03:00 in Shanghai
MORNING = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
NIGHT = datetime(2026, 6, 1, 19, 0, tzinfo=UTC)


# Traffic through the simulator and the controller, not a storage rule: each test runs once,
# on the embedded defaults the demo uses (the storage rules run on every backend elsewhere).
# The long run alone took 4 x 160 s of the suite on all four backend pairs.
@pytest.fixture
def redis_url(embedded_redis: EmbeddedRedis) -> str:
    return embedded_redis.url


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "hotline.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


def _arrivals_in_an_hour(city: CityProfile, start: datetime, seed: int = 1) -> int:
    rng, t, n = random.Random(seed), 0.0, 0
    while True:
        t += next_gap(rng, city, start.fromtimestamp(start.timestamp() + t, UTC))
        if t > 3600:
            return n
        n += 1


async def controlled(
    name: str, port: int, redis: Redis, sessions: async_sessionmaker[AsyncSession], **acd: object
) -> tuple[AmiLink, asyncio.Task[None]]:
    """The real controller of one simulated city, with wrap-ups long enough that the
    simulated operators (not the ACD's timer) end them."""
    city_cfg = City(name=name, ami=AmiEndpoint(port=port, secret="sim"), trunk=f"trunk-{name}")
    settings = AcdSettings(wrapup_s={"general": 600, "enterprise": 600}, **acd)  # type: ignore[arg-type]
    runtime = build(city_cfg, Settings(cities=[city_cfg]), redis, sessions, settings)
    link = runtime.link
    await link.start()
    await link.wait_up(20)
    return link, asyncio.create_task(runtime.run(tick_s=0.1))


def test_arrivals_follow_the_rate_and_the_time_of_day() -> None:
    day = CityProfile("xa", "西安", (SEAT,), calls_per_min=10.0, profile="day")
    # 10:00 is the busiest hour (1.0 x 600/h); 03:00 is 0.02 of it. Poisson: sd = sqrt(n).
    assert abs(_arrivals_in_an_hour(day, MORNING) - 600) < 4 * 600**0.5
    assert _arrivals_in_an_hour(day, NIGHT) < 40
    peak = CityProfile("xa", "西安", (SEAT,), calls_per_min=10.0, profile="peak")
    assert abs(_arrivals_in_an_hour(peak, NIGHT) - 600) < 4 * 600**0.5


def test_profiles_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown traffic profile"):
        CityProfile("xa", "西安", (SEAT,), 1.0, profile="rush")
    with pytest.raises(ValueError, match="IVR mix"):
        CityProfile("xa", "西安", (SEAT,), 1.0, ivr_mix=(("1", 0.5), ("2", 0.2)))


def test_callers_press_what_the_mix_says_and_wait_at_least_the_floor() -> None:
    city = CityProfile(
        "xa", "西安", (SEAT,), 1.0, ivr_mix=(("1", 0.7), ("2", 0.2), ("t", 0.1)), patience_s=20
    )
    traffic = Traffic([(city, SimPbx("xa", {}))], DirectAcdSeats(None), seed=7)  # type: ignore[arg-type]
    scripts = [traffic.caller(city, n) for n in range(5000)]
    share = {k: sum(s.digits == k for s in scripts) / 5000 for k in "12t"}
    assert abs(share["1"] - 0.7) < 0.03 and abs(share["2"] - 0.2) < 0.03
    assert min(s.patience_s for s in scripts) >= city.patience_floor_s
    mean = sum(s.patience_s for s in scripts) / 5000
    assert 18 < mean < 23  # exponential(20) with a floor of 3
    assert len({s.caller_num for s in scripts}) == 5000


def test_seat_operators_answer_with_their_probability() -> None:
    profile = SeatProfile("1001", {Skill.general: 1}, answer_p=0.7, talk_s=10.0)
    city = CityProfile("xa", "西安", (profile,), 1.0)
    traffic = Traffic([(city, SimPbx("xa", {}))], DirectAcdSeats(None), seed=3)  # type: ignore[arg-type]
    draws = [traffic.operators["1001"].draw() for _ in range(4000)]
    answered = [d for d in draws if d.answer_after_s is not None]
    assert abs(len(answered) / 4000 - 0.7) < 0.03
    assert all(1.0 <= d.answer_after_s <= 3.0 for d in answered if d.answer_after_s)
    assert min(d.talk_s for d in answered) >= 2.0


@pytest.mark.slow
async def test_operators_work_the_calls_of_a_running_city(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Operators log in, take calls, click ready before the ACD's long wrap-up ends, and ask
    for a department on the calls they answer."""
    seats = tuple(
        SeatProfile(s, {Skill.general: 1, Skill.enterprise: 1}, answer_p=1.0,
                    answer_s=(0.1, 0.2), talk_s=0.5, wrapup_s=0.2, conference_p=1.0)
        for s in ("1001", "1002")
    )  # fmt: skip
    city = CityProfile("xa", "西安", seats, 60.0, "peak", patience_s=30.0)
    pbx = SimPbx("xa", {})
    server = AmiServer(pbx, secret="sim")
    port = await server.start()
    acd = Acd(redis, cities=("xa",))
    traffic = Traffic(
        [(city, pbx)], DirectAcdSeats(acd), redis=redis, departments=(7,), conferences=True
    )
    await traffic.staff()
    assert (await acd.seat("1001")).state is SeatState.ready
    link, runner = await controlled("xa", port, redis, sessions, ring_timeout_s=5)
    traffic.start()
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + 30
        while traffic.counters.wrapups_ended < 3 and loop.time() < end:
            await asyncio.sleep(0.1)
    finally:
        await traffic.stop()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await link.close()
        await server.stop()
    # The ACD's wrap-up is 10 minutes: only the operators' own clicks made seats ready again.
    assert traffic.counters.wrapups_ended >= 3
    assert sum(f["outcome"] == "answered" for f in pbx.finished) >= 3
    entries: Any = await redis.xrange(keys.commands("xa"))
    asked = [dict(fields) for _id, fields in entries]
    answered = {f["call_id"] for f in pbx.finished if f["outcome"] == "answered"}
    assert asked and all(a["kind"] == "conference" for a in asked)
    assert {a["call_id"] for a in asked} & answered
    assert {a["department_id"] for a in asked} == {"7"} and all(a["stay"] == "0" for a in asked)


def _scaled(seat: SeatProfile, k: float) -> SeatProfile:
    return dataclasses.replace(
        seat,
        answer_s=(seat.answer_s[0] * k, seat.answer_s[1] * k),
        talk_s=seat.talk_s * k,
        wrapup_s=seat.wrapup_s * k,
        pause_s=seat.pause_s * k,
        missed_back_s=seat.missed_back_s * k,
    )


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_demo_operators_keep_answering_through_a_long_run(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The demo's operators (one ring in ten missed) an hour into a run answer as they did at
    its start: after a missed ring the ACD pauses the seat (小休（未接来电）) and the operator
    clicks 就绪 again. Every duration is a fifth of the demo's; seats are busy but not overrun (an overrun queue
    grows, and answered % falls for that reason alone)."""
    k = 0.2
    demo = DEMO_CITIES[1]  # 咸阳: five seats and the callback desk, as the demo runs them
    seats = tuple(_scaled(s, k) for s in demo.seats if Skill.callback not in s.skills)
    city = CityProfile(
        "xy", demo.label, seats, 90.0, "peak", ivr_mix=(("1", 1.0),), patience_s=40.0 * k
    )
    pbx = SimPbx("xy", {}, time_scale=k)
    server = AmiServer(pbx, secret="sim")
    port = await server.start()
    acd = Acd(redis, cities=("xy",))
    traffic = Traffic([(city, pbx)], DirectAcdSeats(acd), seed=4)
    await traffic.staff()
    link, runner = await controlled("xy", port, redis, sessions, ring_timeout_s=6)
    traffic.start()
    try:
        # Until a few hundred callers have left: each seat then missed several rings.
        loop = asyncio.get_running_loop()
        end = loop.time() + 170
        while len(pbx.finished) < 210 and loop.time() < end:
            await asyncio.sleep(0.2)
    finally:
        await traffic.stop()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await link.close()
        await server.stop()
    done = [f["outcome"] for f in pbx.finished]
    assert len(done) >= 180, f"only {len(done)} callers left in 170 s"
    third = len(done) // 3

    def answered(part: list[str]) -> float:
        return sum(o == "answered" for o in part) / len(part)

    first, last = answered(done[:third]), answered(done[-third:])
    seen = (first, last, traffic.counters.missed_back, len(done))
    assert first > 0.6, seen
    assert last > first - 0.15, seen
    assert traffic.counters.missed_back > 0  # rings were missed, and operators came back
    states = {(await acd.seat(s.seat_id)).state for s in seats}
    assert states != {SeatState.paused}, states
