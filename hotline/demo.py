"""`make demo`: three simulated cities, traffic, the controllers and the API, on embedded defaults.

Runs until Ctrl-C, or for DEMO_SECONDS seconds; then prints, as its last line, a one-line
JSON summary. 西安 (xa) is short of seats so its callers overflow to 咸阳 and 宝鸡 (多援一);
impatient callers abandon. Seats are registered with the ACD directly (the seat API comes
with the API issue).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd import callbacks, overflow
from acd.controller import AcdSettings
from acd.model import SeatSpec, Skill
from acd.service import Acd
from acd.stats import Stats
from hotline.controller import build
from hotline.db import make_engine, session_factory
from hotline.redis import redis_client
from hotline.serve import serve_api
from hotline.settings import AmiEndpoint, City, ConfigError, Settings, load_settings
from pbx.link import AmiLink
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SeatBehaviour, SimPbx


@dataclass(frozen=True)
class DemoCity:
    name: str
    label: str
    seats: int
    calls_per_min: float
    partners: tuple[str, ...]


DEMO_CITIES = (
    DemoCity("xa", "西安", 2, 24.0, ("xy", "bj")),
    DemoCity("xy", "咸阳", 5, 8.0, ("xa", "bj")),
    DemoCity("bj", "宝鸡", 5, 8.0, ("xa", "xy")),
)
SECRET = "demo-sim"


def _seats(rng: random.Random, city: DemoCity, index: int) -> dict[str, SeatBehaviour]:
    out = {}
    for n in range(city.seats):
        seat_id = f"{index + 1}{n + 1:03d}"
        # Most seats answer within a few seconds; one in ten misses the call.
        answer = None if rng.random() < 0.1 else rng.uniform(1.0, 3.0)
        out[seat_id] = SeatBehaviour(answer_after_s=answer, talk_s=rng.uniform(4.0, 9.0))
    return out


async def _traffic(
    pbx: SimPbx, city: DemoCity, index: int, rng: random.Random, stop: asyncio.Event
) -> None:
    n = 0
    while not stop.is_set():
        await asyncio.sleep(rng.expovariate(city.calls_per_min / 60))
        if stop.is_set():
            return
        n += 1
        digit = "2" if rng.random() < 0.2 else "1"  # about one in five asks for 政企通
        patience = rng.expovariate(1 / 25)  # some hang up while waiting
        pbx.place_call(CallerScript(f"138{index:04d}{n:04d}", digit, patience))


async def _start_sims(
    rng: random.Random,
) -> tuple[list[tuple[DemoCity, SimPbx, AmiServer]], list[City]]:
    sims: list[tuple[DemoCity, SimPbx, AmiServer]] = []
    cities = []
    for index, demo in enumerate(DEMO_CITIES):
        pbx = SimPbx(demo.name, _seats(rng, demo, index), fallback_after_s=90)
        server = AmiServer(pbx, username="hotline", secret=SECRET)
        port = await server.start()
        sims.append((demo, pbx, server))
        cities.append(
            City(
                name=demo.name,
                label=demo.label,
                partners=list(demo.partners),
                trunk=f"trunk-{demo.name}",
                ami=AmiEndpoint(port=port, secret=SECRET),
            )
        )
    for _demo, pbx, _server in sims:  # the inter-city trunks reach every other city's phones
        for _other, other_pbx, _s in sims:
            if other_pbx is not pbx:
                pbx.remote_seats.update(other_pbx.seats)
    return sims, cities


async def _staff(acd: Acd, redis: Redis, demo: DemoCity, pbx: SimPbx) -> None:
    await overflow.configure(
        redis, demo.name, demo.partners, overflow.OverflowRule(wait_s=8, all_cities_wait_s=None)
    )
    for n, seat_id in enumerate(pbx.seats):
        skills = {Skill.general: 1, Skill.enterprise: 2} if n % 2 else {Skill.general: 1}
        await acd.login(SeatSpec(seat_id, demo.name, skills, f"PJSIP/{seat_id}"))
        await acd.ready(seat_id)


async def _run(settings: Settings, seconds: float | None, summary: dict[str, object]) -> None:
    rng = random.Random(12345)
    started = datetime.now(UTC)  # the database outlives a demo run; count this run only
    sims, cities = await _start_sims(rng)
    settings = settings.model_copy(update={"cities": cities})
    engine = make_engine(settings.resolved_database_url)
    sessions = session_factory(engine)
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    links: list[AmiLink] = []
    async with redis_client(settings) as redis:
        if not settings.redis_url:
            await redis.flushdb()  # the embedded Redis is the demo's own: start from zero
        acd = Acd(redis, cities=tuple(c.name for c in cities))
        for index, (demo, pbx, _server) in enumerate(sims):
            await _staff(acd, redis, demo, pbx)
            link, controller = build(
                cities[index],
                settings,
                redis,
                sessions,
                AcdSettings(
                    ring_timeout_s=6,
                    helpers=demo.partners,
                    callback_after_s=1,  # short, so a 40-second demo shows callbacks
                    wrapup_s={"general": 2, "enterprise": 3},
                ),
            )
            await link.start()
            links.append(link)
            tasks.append(asyncio.create_task(controller.run(tick_s=0.25)))
        for link in links:
            await link.wait_up(10)
        host, port = settings.api.host, settings.api.port
        tasks.append(asyncio.create_task(serve_api(settings, redis, engine, host, port)))
        print(f"health:    http://{host}:{port}/health", flush=True)
        print(
            "wallboard: not built yet (API issue); live statistics stream on Redis "
            "key hl:stats:stream",
            flush=True,
        )
        for index, (demo, pbx, _server) in enumerate(sims):
            tasks.append(asyncio.create_task(_traffic(pbx, demo, index, rng, stop)))
        try:
            if seconds is None:
                await asyncio.Event().wait()
            await asyncio.sleep(seconds or 0)
        finally:
            stop.set()
            await asyncio.sleep(1.0)
            summary.update(await _summary(acd, sessions, [d.name for d in DEMO_CITIES], started))
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for link in links:
                await link.close()
            for _demo, _pbx, server in sims:
                await server.stop()
            await engine.dispose()


async def _summary(
    acd: Acd, sessions: async_sessionmaker[AsyncSession], cities: list[str], started: datetime
) -> dict[str, object]:
    stats = Stats(acd.redis)
    now = acd.clock()
    offered = answered = abandoned = overflowed = in_sl = ended = 0
    for city in cities:
        for skill in Skill:
            w = await stats.window(city, skill, now, None)
            offered += w.offered
            answered += w.answered
            abandoned += w.abandoned
            overflowed += w.overflow_out
            if w.service_level is not None:
                in_sl += round(w.service_level * (w.answered + w.abandoned))
                ended += w.answered + w.abandoned
    return {
        "offered": offered,
        "answered": answered,
        "abandoned": abandoned,
        "overflowed": overflowed,
        "callbacks_created": await callbacks.count(sessions, since=started),
        "callbacks_connected": 0,
        "three_way": 0,
        "service_level": round(in_sl / ended, 3) if ended else None,
        "not_built_yet": ["callback calls (tasks are created, nobody calls back yet)", "three_way"],
    }


def main() -> None:
    raw = os.environ.get("DEMO_SECONDS")
    try:
        seconds = float(raw) if raw else None
    except ValueError:
        sys.exit(f"demo: DEMO_SECONDS={raw!r} is not a number")
    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.exit(f"demo: {exc}")
    summary: dict[str, object] = {}
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(settings, seconds, summary))
    print(json.dumps(summary, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
