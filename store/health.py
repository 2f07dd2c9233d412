"""Liveness checks of the shared stores, used by `hotline doctor` and the API's /health."""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from store import keys


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


async def redis_check(client: Redis) -> Check:
    started = time.perf_counter()
    try:
        await client.set(keys.HEALTH_PROBE, "1", ex=10)
        info = await client.info("server")
    except (RedisError, OSError) as exc:
        return Check(False, f"redis unreachable: {exc}")
    ms = (time.perf_counter() - started) * 1000
    return Check(True, f"redis {info.get('redis_version', '?')}, round trip {ms:.1f} ms")


async def database_check(engine: AsyncEngine) -> Check:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Check(False, f"{engine.dialect.name} unreachable: {first}")
    return Check(True, f"{engine.dialect.name} {engine.url.render_as_string(hide_password=True)}")


async def ami_link_states(client: Redis, cities: list[str]) -> dict[str, dict[str, str]]:
    """What each city's controller last reported about its AMI link (it writes keys.ami_link)."""
    out: dict[str, dict[str, str]] = {}
    for city in cities:
        state: dict[str, str] = await client.hgetall(keys.ami_link(city))  # type: ignore[assignment]
        out[city] = state or {"state": "unknown", "detail": "no controller has reported"}
    return out
