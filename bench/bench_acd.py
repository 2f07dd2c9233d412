"""Routing decisions: 5,000 seats over 10 cities, 2,000 waiting callers, on a real Redis.

Each timed decision is one `Acd.route` (one pipelined read + one Lua script). Between
decisions, untimed, the call ends and the seat is ready again and a new caller joins, so the
load stays at 5,000 seats / 2,000 callers throughout. The floor is one round trip of a one-key
command to the node of the ACD's slot (EXISTS), measured in the same run. BENCH_REDIS_URL may
name a Redis Cluster (redis+cluster://); bench_acd_cluster runs this on a cluster and on one
server side by side.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from redis.asyncio import Redis

from acd.queue import overflow
from acd.queue.service import Acd
from acd.queue.types import SeatSpec, Skill
from hotline.redis import connect
from store import keys

CITIES = tuple(f"c{i:02d}" for i in range(10))
SEATS_PER_CITY = 500
WAITING = 2_000
DECISIONS = 5_000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def _setup(acd: Acd, redis: Redis) -> None:
    await redis.flushdb()
    for n, city in enumerate(CITIES):
        helpers = (CITIES[(n + 1) % 10], CITIES[(n + 2) % 10])
        await overflow.configure(redis, city, helpers, overflow.OverflowRule(wait_s=60))
        for s in range(SEATS_PER_CITY):
            seat_id = f"{n:02d}{s:03d}"
            skills = {Skill.general: 1} if s % 5 else {Skill.general: 1, Skill.enterprise: 2}
            await acd.login(SeatSpec(seat_id, city, skills, f"PJSIP/{seat_id}"))
            await acd.ready(seat_id)
    for i in range(WAITING):
        await acd.enqueue(f"w{i}", CITIES[i % 10], Skill.general)


async def _measure(redis: Redis) -> tuple[list[float], list[float], float]:
    acd = Acd(redis, cities=CITIES, trunks={c: f"trunk-{c}" for c in CITIES})
    await _setup(acd, redis)
    floor = []
    for _ in range(2_000):
        t = time.perf_counter()
        await redis.exists(keys.ACD_SEQ)  # PING would go to every node of a cluster
        floor.append((time.perf_counter() - t) * 1000)
    latencies = []
    started = time.perf_counter()
    for i in range(DECISIONS):
        city = CITIES[i % 10]
        t = time.perf_counter()
        decision = await acd.route(city, Skill.general)
        latencies.append((time.perf_counter() - t) * 1000)
        if decision is None:
            raise SystemExit(f"bench: no decision for {city}: the setup is wrong")
        # untimed: the seat frees up and another caller joins
        await acd.answered(decision.call_id)
        await acd.ended(decision.call_id, wrapup_s=0)
        await acd.end_wrapup(decision.seat_id)
        await acd.enqueue(f"n{i}", city, Skill.general)
    _ = time.perf_counter() - started
    return latencies, floor, await _throughput(acd, redis)


async def _drain(acd: Acd, city: str) -> int:
    done = 0
    while await acd.route(city, Skill.general) is not None:
        done += 1
    return done


async def _throughput(acd: Acd, redis: Redis) -> float:
    """Every city's controller routing at once until the 2,000 callers are placed."""
    await _setup(acd, redis)
    started = time.perf_counter()
    counts = await asyncio.gather(*(_drain(acd, city) for city in CITIES))
    elapsed = time.perf_counter() - started
    if sum(counts) != WAITING:
        raise SystemExit(f"bench: placed {sum(counts)} of {WAITING} callers")
    return WAITING / elapsed


async def run_on(url: str, prefix: str = "") -> None:
    """Measure on the URL; ``prefix`` tells the figures of one setup from another's."""
    redis = connect(url)
    try:
        latencies, floor, per_s = await _measure(redis)
    finally:
        await redis.flushdb()
        await redis.aclose()
    p50, p99 = pct(latencies, 0.50), pct(latencies, 0.99)
    floor50 = statistics.median(floor)
    print(f"BENCH {prefix}route_p50_ms {p50:.3f} ms")
    print(f"BENCH {prefix}route_p99_ms {p99:.3f} ms")
    print(f"BENCH {prefix}route_per_s {per_s:.0f} decisions/s")
    print(f"BENCH {prefix}route_serial_per_s {1000 / statistics.mean(latencies):.0f} decisions/s")
    print(f"BENCH {prefix}redis_rtt_p50_ms {floor50:.3f} ms")
    print(f"BENCH {prefix}route_vs_redis_rtt {p50 / floor50:.2f} x")


def run() -> None:
    url = os.environ.get("BENCH_REDIS_URL")
    if url:
        print(f"# acd bench on {url}")
        asyncio.run(run_on(url))
        return
    from hotline.redis import EmbeddedRedis

    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp))
        print("# acd bench on an embedded Redis (set BENCH_REDIS_URL for a server)")
        try:
            asyncio.run(run_on(server.url))
        finally:
            server.close()
