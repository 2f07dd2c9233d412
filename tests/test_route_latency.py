"""The routing-time histogram on real Redis: buckets, count and sum as /metrics reads them."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from acd.queue import latency as route_latency


async def test_samples_land_in_the_smallest_bucket_that_holds_them(redis: Redis) -> None:
    for seconds in (0.0003, 0.0005, 0.003, 0.003, 3.0):
        await route_latency.observe(redis, "xa", seconds)
    await route_latency.observe(redis, "xy", 0.02)
    got = await route_latency.read(redis, "xa")
    cumulative = dict(got.buckets)
    assert cumulative["0.0005"] == 2  # a bound holds a sample equal to it (Prometheus "le")
    assert cumulative["0.0025"] == 2 and cumulative["0.005"] == 4
    assert cumulative["2.5"] == 4 and cumulative["+Inf"] == got.count == 5
    assert got.sum_s == pytest.approx(3.0068)
    assert [b for b, _ in got.buckets][-1] == "+Inf"
    assert [n for _, n in got.buckets] == sorted(n for _, n in got.buckets)
    assert (await route_latency.read(redis, "xy")).count == 1  # per city


async def test_a_city_never_routed_reads_as_empty(redis: Redis) -> None:
    got = await route_latency.read(redis, "bj")
    assert got.count == 0 and got.sum_s == 0 and all(n == 0 for _, n in got.buckets)
