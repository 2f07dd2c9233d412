"""The API over real HTTP (uvicorn) on an embedded Redis and SQLite: a seat's current-call
read (what the page loads on every pop), the wallboard's city view, and how long a pop takes
from the controller's publish to the event arriving on the seat's SSE stream."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from argon2 import PasswordHasher
from redis.asyncio import Redis

from acd.queue import notify
from api.app import create_app
from api.deps import AppDeps
from api.services import users
from hotline.db import make_engine, session_factory, upgrade
from hotline.redis import EmbeddedRedis
from tests.api_support import served

READS = 500
POPS = 200


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def _timed(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> list[float]:
    out = []
    for _ in range(READS):
        t = time.perf_counter()
        resp = await client.get(path, headers=headers)
        out.append((time.perf_counter() - t) * 1000)
        if resp.status_code != 200:
            raise SystemExit(f"bench: {path} answered {resp.status_code}")
    return out


async def _pops(client: httpx.AsyncClient, redis: Redis, token: str) -> list[float]:
    out = []
    async with client.stream("GET", f"/api/seat/events?token={token}") as resp:
        lines = resp.aiter_lines()
        async for line in lines:  # the hello event
            if line == "":
                break
        for n in range(POPS):
            t = time.perf_counter()
            await notify.seat_event(redis, "1001", "ringing", call_id=f"c{n}")
            async for line in lines:
                if line == "":
                    break
            out.append((time.perf_counter() - t) * 1000)
    return out


async def _run(tmp: Path, url: str) -> None:
    redis: Redis = Redis.from_url(url, decode_responses=True)
    engine = make_engine(f"sqlite+aiosqlite:///{tmp / 'bench.sqlite3'}")
    await upgrade(engine)
    sessions = session_factory(engine)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("bench-password")
    await users.create(sessions, "s1", "", "seat", "1001", password_hash=cheap)
    await users.create(sessions, "d1", "", "dispatcher", "9001", password_hash=cheap)
    await users.save_seat_profile(sessions, "1001", "xa", {"general": 1}, "PJSIP/1001")
    app = create_app(AppDeps(redis=redis, engine=engine, cities=("xa",), sessions=sessions))
    try:
        async with served(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
            tokens = {}
            for name in ("s1", "d1"):
                r = await client.post(
                    "/api/auth/login", json={"username": name, "password": "bench-password"}
                )
                tokens[name] = r.json()["token"]
            seat = {"Authorization": f"Bearer {tokens['s1']}"}
            await client.post("/api/seat/login", headers=seat)
            call = await _timed(client, "/api/seat/call", seat)
            disp = {"Authorization": f"Bearer {tokens['d1']}"}
            city = await _timed(client, "/api/dispatcher/cities/xa", disp)
            pops = await _pops(client, redis, tokens["s1"])
    finally:
        await redis.flushdb()
        await redis.aclose()
        await engine.dispose()
    print(f"BENCH api_seat_call_p50_ms {pct(call, 0.5):.2f} ms")
    print(f"BENCH api_seat_call_per_s {1000 / statistics.mean(call):.0f} requests/s")
    print(f"BENCH api_city_view_p50_ms {pct(city, 0.5):.2f} ms")
    print(f"BENCH api_seat_pop_p50_ms {pct(pops, 0.5):.2f} ms")
    print(f"BENCH api_seat_pop_p99_ms {pct(pops, 0.99):.2f} ms")


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp))
        print("# api bench: uvicorn + embedded Redis + SQLite, one client, serial requests")
        try:
            asyncio.run(_run(Path(tmp), server.url))
        finally:
            server.close()
