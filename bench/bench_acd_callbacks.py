"""Callback claims: one Lua script claims a task and reserves a seat, on a real Redis.

500 seats of the 漏话回拨 desk; each timed claim takes the longest-idle seat for a task (the
same script a controller runs per due task each tick); untimed, the seat is released again.
Then 10 controllers claim the same 2,000 tasks at once: every task must be won exactly once.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker

from acd.callbacks.runner import CallbackRunner, CallbackSettings
from acd.callbacks.tables import CallbackTask
from acd.queue.service import Acd
from acd.queue.types import SeatSpec, Skill
from bench.bench_acd import pct
from pbx.link import AmiLink
from recording.indexer import Indexer
from store import keys

SEATS = 500
CLAIMS = 5_000
TASKS = 2_000


def _task(n: int) -> CallbackTask:
    return CallbackTask(
        id=n,
        number=f"138{n:08d}",
        city="xa",
        skill="general",
        source="abandoned",
        attempts=0,
        waited_s=10.0,
        created_at=datetime.now(UTC),
    )


def _runner(acd: Acd) -> CallbackRunner:
    link = AmiLink("xa", "127.0.0.1", 1, "u", "s")  # never connected: claims need no PBX
    return CallbackRunner(
        "xa",
        link,
        acd,
        async_sessionmaker(),
        indexer=Indexer(
            async_sessionmaker(), acd.redis, "xa", CallbackSettings().recordings, owner="callbacks"
        ),
    )


async def _measure(redis: Redis) -> tuple[list[float], float]:
    await redis.flushdb()
    acd = Acd(redis, cities=("xa",))
    for s in range(SEATS):
        await acd.login(SeatSpec(f"9{s:03d}", "xa", {Skill.callback: 1}, f"PJSIP/9{s:03d}"))
        await acd.ready(f"9{s:03d}")
    runner = _runner(acd)
    latencies = []
    for i in range(CLAIMS):
        task = _task(i)
        t = time.perf_counter()
        claimed = await runner.claim(task)
        latencies.append((time.perf_counter() - t) * 1000)
        if claimed is None:
            raise SystemExit("bench: a claim found no seat: the setup is wrong")
        await acd.ended(claimed[0], wrapup_s=0)  # untimed: the seat is ready again
        await redis.delete(keys.callback_running(task.id))
    # Contention: 10 controllers, each trying every task; the seats are plenty.
    await redis.flushdb()
    for s in range(TASKS):
        await acd.login(SeatSpec(f"8{s:04d}", "xa", {Skill.callback: 1}, f"PJSIP/8{s:04d}"))
        await acd.ready(f"8{s:04d}")
    runners = [_runner(Acd(redis, cities=("xa",))) for _ in range(10)]
    tasks = [_task(n) for n in range(TASKS)]

    async def sweep(r: CallbackRunner) -> int:
        return sum([await r.claim(t) is not None for t in tasks])

    started = time.perf_counter()
    won = await asyncio.gather(*(sweep(r) for r in runners))
    elapsed = time.perf_counter() - started
    if sum(won) != TASKS:
        raise SystemExit(f"bench: {sum(won)} claims won for {TASKS} tasks (must be equal)")
    return latencies, 10 * TASKS / elapsed


async def _run(url: str) -> None:
    redis = Redis.from_url(url, decode_responses=True)
    try:
        latencies, per_s = await _measure(redis)
    finally:
        await redis.flushdb()
        await redis.aclose()
    print(f"BENCH callback_claim_p50_ms {pct(latencies, 0.5):.3f} ms")
    print(f"BENCH callback_claim_p99_ms {pct(latencies, 0.99):.3f} ms")
    print(f"BENCH callback_claim_serial_per_s {1000 / statistics.mean(latencies):.0f} claims/s")
    print(f"BENCH callback_claim_contended_per_s {per_s:.0f} claims/s")


def run() -> None:
    url = os.environ.get("BENCH_REDIS_URL")
    if url:
        print(f"# callback claim bench on {url}")
        asyncio.run(_run(url))
        return
    from hotline.redis import EmbeddedRedis

    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp))
        print("# callback claim bench on an embedded Redis (set BENCH_REDIS_URL for a server)")
        try:
            asyncio.run(_run(server.url))
        finally:
            server.close()
