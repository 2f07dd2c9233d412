"""How long the controller's routing decisions take, per city, kept in Redis.

A fixed-bucket histogram in one hash (store.keys.route_latency): each decision adds 1 to the
field of the smallest bucket bound it fits under, 1 to ``count`` and its microseconds to
``sum_us``, in one round trip. Any API process reads the same totals for /metrics; the
controller keeps nothing in memory, so a restarted one carries on counting.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from store import keys

# Upper bounds in seconds: a decision is one Lua script on Redis, so most fall under a few ms.
BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
INF = "+Inf"


def _field(seconds: float) -> str:
    i = bisect.bisect_left(BUCKETS_S, seconds)
    return INF if i == len(BUCKETS_S) else repr(BUCKETS_S[i])


@dataclass(frozen=True)
class Histogram:
    buckets: list[tuple[str, int]]  # (upper bound, cumulative count), ending with +Inf
    count: int
    sum_s: float


async def observe(redis: Redis, city: str, seconds: float) -> None:
    key = keys.route_latency(city)
    pipe: Any = redis.pipeline(transaction=False)
    pipe.hincrby(key, _field(max(seconds, 0.0)), 1)
    pipe.hincrby(key, "count", 1)
    pipe.hincrby(key, "sum_us", round(max(seconds, 0.0) * 1_000_000))
    await pipe.execute()


async def read(redis: Redis, city: str) -> Histogram:
    client: Any = redis
    raw: dict[str, str] = await client.hgetall(keys.route_latency(city))
    running = 0
    buckets: list[tuple[str, int]] = []
    for bound in (*(repr(b) for b in BUCKETS_S), INF):
        running += int(raw.get(bound, 0))
        buckets.append((bound, running))
    return Histogram(buckets, int(raw.get("count", 0)), int(raw.get("sum_us", 0)) / 1_000_000)
