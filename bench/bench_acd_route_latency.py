"""What timing the routing decisions costs the controller: one `route_latency.observe` (three
HINCRBY in one pipelined round trip) per decision, beside a one-key round trip, on a real Redis;
and one /metrics read of ten cities' histograms."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from acd.queue import latency as route_latency
from bench.bench_acd import pct
from hotline.redis import connect
from store import keys

SAMPLES = 5_000
CITIES = tuple(f"c{i:02d}" for i in range(10))


async def _run(url: str) -> None:
    redis = connect(url)  # BENCH_REDIS_URL may be a cluster (redis+cluster://)
    try:
        await redis.flushdb()
        floor, cost = [], []
        for i in range(SAMPLES):
            t = time.perf_counter()
            await redis.exists(keys.route_latency(CITIES[i % 10]))  # a cluster PINGs every node
            floor.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await route_latency.observe(redis, CITIES[i % 10], 0.0001 * (i % 300))
            cost.append((time.perf_counter() - t) * 1000)
        reads = []
        for _ in range(200):
            t = time.perf_counter()
            for city in CITIES:
                await route_latency.read(redis, city)
            reads.append((time.perf_counter() - t) * 1000)
        total = sum([(await route_latency.read(redis, c)).count for c in CITIES])
        if total != SAMPLES:
            raise SystemExit(f"bench: {total} samples counted of {SAMPLES}")
    finally:
        await redis.flushdb()
        await redis.aclose()
    print(f"BENCH route_timing_record_p50_ms {pct(cost, 0.5):.3f} ms")
    print(f"BENCH route_timing_record_p99_ms {pct(cost, 0.99):.3f} ms")
    print(
        f"BENCH route_timing_record_vs_redis_rtt {pct(cost, 0.5) / statistics.median(floor):.2f} x"
    )
    print(f"BENCH route_timing_scrape_10_cities_p50_ms {pct(reads, 0.5):.3f} ms")


def run() -> None:
    url = os.environ.get("BENCH_REDIS_URL")
    if url:
        print(f"# route timing bench on {url}")
        asyncio.run(_run(url))
        return
    from hotline.redis import EmbeddedRedis

    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp))
        print("# route timing bench on an embedded Redis (set BENCH_REDIS_URL for a server)")
        try:
            asyncio.run(_run(server.url))
        finally:
            server.close()
