"""A store that does not answer is a 503 with a code and Retry-After, not a bare 500: the
API stays up while PostgreSQL or Redis restarts, and the pages can say so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from api.app import create_app
from chaos.services import free_port
from hotline.db import make_engine, session_factory
from tests.api_support import PASSWORD, make_deps


async def _client(
    redis_url: str, database_url: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    redis: Redis = Redis.from_url(redis_url, decode_responses=True)
    engine = make_engine(database_url)
    deps = make_deps(redis, engine, sessions=session_factory(engine), recordings_dir=tmp_path)
    transport = httpx.ASGITransport(app=create_app(deps), raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        await redis.aclose()
        await engine.dispose()


@pytest.fixture
async def no_database(redis_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    # nothing listens there: what a PostgreSQL restart looks like to the API
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    async for client in _client(redis_url, closed, tmp_path):
        yield client


@pytest.fixture
async def no_redis(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    async for client in _client(closed, f"sqlite+aiosqlite:///{tmp_path}/db.sqlite", tmp_path):
        yield client


async def test_a_login_while_the_database_is_down_is_a_503(
    no_database: httpx.AsyncClient,
) -> None:
    resp = await no_database.post(
        "/api/auth/login", json={"username": "disp", "password": PASSWORD}
    )
    assert resp.status_code == 503, resp.text
    assert resp.json()["code"] == "database_unavailable"
    assert resp.headers["Retry-After"] == "5"
    assert "数据库暂时无法访问" in resp.json()["detail"]


async def test_the_citizens_lookup_while_the_database_is_down_is_a_503(
    no_database: httpx.AsyncClient,
) -> None:
    resp = await no_database.get("/api/public/tickets/202612060001?last4=1234")
    assert resp.status_code == 503, resp.text
    assert resp.json()["code"] == "database_unavailable"


async def test_a_login_while_redis_is_down_is_a_503(no_redis: httpx.AsyncClient) -> None:
    resp = await no_redis.post("/api/auth/login", json={"username": "disp", "password": PASSWORD})
    assert resp.status_code == 503, resp.text
    assert resp.json()["code"] == "live_state_unavailable"
