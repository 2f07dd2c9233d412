"""Fixtures for the API tests: the real app on real Redis and a real database, staff users
logged in through the login route, and a real uvicorn for streams and the browser."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.app import AppDeps, create_app
from api.services import users

PASSWORD = "correct horse 12345"
# Real argon2id, cheap parameters: verifying reads them from the hash, so logins stay fast.
CHEAP_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
STAFF = (
    ("admin", "admin", None),
    ("disp", "dispatcher", "9001"),
    ("qa", "qa", None),
    ("seat1", "seat", "1001"),
    ("seat2", "seat", "1002"),
)
ROLE_USER = {"admin": "admin", "dispatcher": "disp", "qa": "qa", "seat": "seat1"}


@pytest.fixture
def once(request: pytest.FixtureRequest) -> None:
    """For the heavy end-to-end tests: run on one backend pair only, the servers when
    configured (closest to production), else the embedded ones."""
    from tests.conftest import DB_BACKENDS, REDIS_BACKENDS

    params = request.node.callspec.params
    pair = (params.get("redis_url"), params.get("database_url"))
    if pair != (REDIS_BACKENDS[-1], DB_BACKENDS[-1]):
        pytest.skip("runs on one backend pair only")


@dataclass
class Api:
    client: httpx.AsyncClient
    app: FastAPI
    deps: AppDeps
    redis: Redis
    sessions: async_sessionmaker[AsyncSession]
    tokens: dict[str, str] = field(default_factory=dict)  # username -> token

    def as_(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def role(self, role: str) -> dict[str, str]:
        return self.as_(ROLE_USER[role])

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        return await self.client.post(
            "/api/auth/login", json={"username": username, "password": password}
        )


def make_deps(redis: Redis, engine: AsyncEngine, **kw: object) -> AppDeps:
    return AppDeps(
        redis=redis,
        engine=engine,
        cities=("xa", "xy"),
        city_labels={"xa": "西安", "xy": "咸阳"},
        partners={"xa": ("xy",), "xy": ("xa",)},
        **kw,  # type: ignore[arg-type]
    )


async def add_staff(sessions: async_sessionmaker[AsyncSession]) -> None:
    for username, role, seat in STAFF:
        await users.create(sessions, username, PASSWORD, role, seat, password_hash=CHEAP_HASH)
    await users.save_seat_profile(sessions, "1001", "xa", {"general": 1}, "PJSIP/1001")
    await users.save_seat_profile(
        sessions, "1002", "xa", {"general": 1, "enterprise": 2}, "PJSIP/1002"
    )


@pytest.fixture
async def api(
    redis: Redis, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Api]:
    deps = make_deps(redis, engine, command_timeout_s=1.0, sessions=sessions)
    app = create_app(deps)
    await add_staff(sessions)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        a = Api(client, app, deps, redis, sessions)
        for username, _role, _seat in STAFF:
            resp = await a.login(username)
            assert resp.status_code == 200, resp.text
            a.tokens[username] = resp.json()["token"]
        yield a


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """A real uvicorn on a free port, in this event loop; yields the base URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
