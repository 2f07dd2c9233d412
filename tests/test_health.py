"""/health through the real ASGI app, on real Redis and a real database."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import AppDeps, create_app
from api.auth import Principal, issue_token
from store import keys


async def test_health_reports_stores_and_links(redis: Redis, engine: AsyncEngine) -> None:
    await redis.hset(keys.ami_link("xa"), mapping={"state": "connected", "since": "t"})  # type: ignore[misc]
    app = create_app(AppDeps(redis=redis, engine=engine, cities=("xa", "xy")))
    token = await issue_token(redis, Principal(1, "admin", "admin", None), 60)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        anonymous = await c.get("/health")
        forged = await c.get("/health", headers={"Authorization": "Bearer forged"})
        resp = await c.get("/health", headers={"Authorization": f"Bearer {token}"})
    # Anyone (a load balancer) learns ok or not; hosts, errors and links only staff.
    assert anonymous.status_code == 200 and anonymous.json() == {"status": "ok"}
    assert forged.json() == {"status": "ok"}
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert body["redis"]["ok"] and body["database"]["ok"]
    assert body["ami"]["xa"]["state"] == "connected"
    assert body["ami"]["xy"]["state"] == "unknown"


async def test_health_degraded_when_redis_is_down(engine: AsyncEngine) -> None:
    dead: Redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    app = create_app(AppDeps(redis=dead, engine=engine, cities=("xa",)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        resp = await c.get("/health")
    await dead.aclose()
    assert resp.status_code == 503
    # Without Redis no token can be checked: the status alone, no internals.
    assert resp.json() == {"status": "degraded"}
