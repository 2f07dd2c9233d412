"""A city for the calls tests: the simulator over a real socket, the real controller (built by
hotline.controller, callbacks included), real Redis and a real database.

The end-to-end tests run on two backend pairs, not on all four combinations: embedded Redis
with SQLite, and the servers (Redis, PostgreSQL) when TEST_* name them. The storage rules
themselves are tested on every combination in test_callbacks_execution.py.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks.runner import CallbackRunner, CallbackSettings
from acd.calls import records
from acd.calls.tables import CallRecord
from acd.controller import AcdController, AcdSettings
from acd.queue.service import Acd
from acd.queue.types import SeatSpec, Skill
from hotline.controller import CityRuntime, build
from hotline.settings import AmiEndpoint, City, Settings
from pbx.link import AmiLink
from recording.indexer import Indexer
from sim import outbound
from sim.ami_server import AmiServer
from sim.engine import SeatBehaviour, SimPbx
from tests.conftest import _pg_admin

_SERVERS = bool(os.environ.get("TEST_REDIS_URL") and os.environ.get("TEST_DATABASE_URL"))
PAIRS = [("embedded", "sqlite")] + ([("server", "postgresql")] if _SERVERS else [])


@pytest.fixture(name="backend", params=PAIRS, ids=["-".join(p) for p in PAIRS])
def paired_backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(name="redis_url")
def paired_redis_url(backend: tuple[str, str], request: pytest.FixtureRequest) -> str:
    if backend[0] == "server":
        return os.environ["TEST_REDIS_URL"]
    return str(request.getfixturevalue("embedded_redis").url)


@pytest.fixture(name="database_url")
def paired_database_url(
    backend: tuple[str, str], request: pytest.FixtureRequest, tmp_path: object
) -> Iterator[str]:
    if backend[1] == "sqlite":
        path = request.getfixturevalue("tmp_path") / "hotline.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    base = os.environ["TEST_DATABASE_URL"]
    name = f"hl_t_{uuid.uuid4().hex[:10]}"
    _pg_admin(base, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    _pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bare_runner(
    link: AmiLink, acd: Acd, sessions: async_sessionmaker[AsyncSession]
) -> CallbackRunner:
    """A callback runner outside a city runtime (claims, refusals: no recording to index)."""
    settings = CallbackSettings()
    indexer = Indexer(sessions, acd.redis, "xa", settings.recordings, owner="callbacks")
    return CallbackRunner("xa", link, acd, sessions, settings, acd.clock, indexer=indexer)


FAST_CALLBACKS = CallbackSettings(
    hours=("00:00", "00:00"), backoff_s=0.2, seat_ring_s=2, citizen_ring_s=1, wrapup_s=0
)


async def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def wait_until(check: Callable[[], object], timeout: float = 20.0) -> None:
    """Like wait_for, for an async check (a database or Redis read)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await check():  # type: ignore[misc]
        if loop.time() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def record_where(
    sessions: async_sessionmaker[AsyncSession],
    call_id: str,
    check: Callable[[CallRecord], object],
    timeout: float = 20.0,
) -> CallRecord:
    """Wait until the controller has written the call record so far that ``check`` holds."""
    found: list[CallRecord] = []

    async def ready() -> bool:
        try:
            record = await records.get_record(sessions, call_id)
        except records.CallNotFound:
            return False
        found[:] = [record]
        return bool(check(record))

    await wait_until(ready, timeout)
    return found[0]


async def record_ended(
    sessions: async_sessionmaker[AsyncSession], call_id: str, timeout: float = 20.0
) -> CallRecord:
    return await record_where(
        sessions, call_id, lambda r: r.ended_at is not None and r.outcome, timeout
    )


@dataclass
class Controller:
    runtime: CityRuntime
    task: asyncio.Task[None]

    @property
    def link(self) -> AmiLink:
        return self.runtime.link

    @property
    def controller(self) -> AcdController:
        return self.runtime.controller

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.link.close()


@dataclass
class CityUnderTest:
    pbx: SimPbx
    server: AmiServer
    city: City
    settings: Settings
    acd: Acd
    redis: Redis
    sessions: async_sessionmaker[AsyncSession]
    controllers: list[Controller] = field(default_factory=list)

    @property
    def phones(self) -> dict[str, outbound.PhoneBehaviour]:
        return outbound.of(self.pbx).phones

    @property
    def dialled(self) -> list[str]:
        return outbound.of(self.pbx).dialled

    async def seat(self, seat_id: str, *skills: Skill, ready: bool = True) -> None:
        await self.acd.login(SeatSpec(seat_id, "xa", {s: 1 for s in skills}, f"PJSIP/{seat_id}"))
        if ready:
            await self.acd.ready(seat_id)

    async def start_controller(
        self,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        callbacks: CallbackSettings = FAST_CALLBACKS,
        acd_settings: AcdSettings | None = None,
    ) -> Controller:
        runtime = build(
            self.city,
            self.settings,
            self.redis,
            sessions or self.sessions,
            acd_settings or AcdSettings(ring_timeout_s=2, wrapup_s={}, callback_after_s=0.3),
            callbacks,
        )
        link = runtime.link
        await link.start()
        await link.wait_up(20)
        item = Controller(runtime, asyncio.create_task(runtime.run(tick_s=0.05)))
        self.controllers.append(item)
        return item

    async def close(self) -> None:
        for item in self.controllers:
            await item.stop()
        await self.server.stop()


async def city(
    redis: Redis,
    sessions: async_sessionmaker[AsyncSession],
    seats: dict[str, SeatBehaviour] | None = None,
) -> CityUnderTest:
    # Short music chunks: the fallback check runs between chunks, as in [acd-wait].
    pbx = SimPbx("xa", seats or {}, fallback_after_s=60, moh_chunk_s=0.1)
    server = AmiServer(pbx, secret="s")
    port = await server.start()
    city = City(name="xa", ami=AmiEndpoint(port=port, secret="s"))
    return CityUnderTest(
        pbx, server, city, Settings(cities=[city]), Acd(redis, cities=("xa",)), redis, sessions
    )
