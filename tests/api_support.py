"""Fixtures for the API tests: the real app on real Redis and a real database, staff users
logged in through the login route, and a real uvicorn for streams and the browser."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.app import AppDeps, create_app
from api.services import users
from hotline.db import make_engine, session_factory

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


# The API tests run on two backend pairs (embedded Redis + SQLite, and the servers when
# configured), not on all four combinations: the storage code under them is tested per
# backend by its own tests; here the routes are what is tested.
PAIRS = [("embedded", "sqlite")] + (
    [("server", "postgresql")]
    if os.environ.get("TEST_REDIS_URL") and os.environ.get("TEST_DATABASE_URL")
    else []
)


@pytest.fixture(params=PAIRS, ids=["-".join(p) for p in PAIRS])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(Redis URL, database URL), the database fresh and migrated for this test."""
    from tests.conftest import _pg_admin

    redis_kind, db_kind = request.param
    if redis_kind == "server":
        redis_url = os.environ["TEST_REDIS_URL"]
    else:
        redis_url = request.getfixturevalue("embedded_redis").url
    if db_kind == "sqlite":
        path = tmp_path / "hotline.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield redis_url, f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    base = os.environ["TEST_DATABASE_URL"]
    name = f"hl_t_{uuid.uuid4().hex[:10]}"
    _pg_admin(base, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield redis_url, make_url(base).set(database=name).render_as_string(hide_password=False)
    _pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def once(request: pytest.FixtureRequest) -> None:
    """For the heavy end-to-end tests: one backend pair only, the servers when configured
    (closest to production), else the embedded ones."""
    if request.node.callspec.params.get("backend") != PAIRS[-1]:
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
async def api(backend: tuple[str, str], tmp_path: Path) -> AsyncIterator[Api]:
    redis_url, database_url = backend
    redis: Redis = Redis.from_url(redis_url, decode_responses=True)
    await redis.flushdb()
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    deps = make_deps(
        redis, engine, command_timeout_s=1.0, sessions=sessions, recordings_dir=tmp_path
    )
    app = create_app(deps)
    await add_staff(sessions)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            a = Api(client, app, deps, redis, sessions)
            for username, _role, _seat in STAFF:
                resp = await a.login(username)
                assert resp.status_code == 200, resp.text
                a.tokens[username] = resp.json()["token"]
            yield a
    finally:
        await redis.flushdb()
        await redis.aclose()
        await engine.dispose()


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
