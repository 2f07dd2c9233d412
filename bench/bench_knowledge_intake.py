"""The public intake's throughput over real HTTP (uvicorn, the real ASGI app): citizens' web form
messages, each one held (POST /api/intake/messages/web: the guard's counters in Redis, the code
sent) and confirmed (POST /api/intake/confirm: the draft builder, the ticket and the message in
one transaction). One accepted submission is both requests; every one must end as a ticket.

On the embedded defaults (embedded Redis, SQLite): `intake_per_s`; on PostgreSQL when it is
reachable (BENCH_DATABASE_URL, in a fresh database of its own, dropped at the end; Redis from
BENCH_REDIS_URL, else the embedded one): `intake_per_s_pg`. BENCH_INTAKE_SUBMISSIONS and
BENCH_INTAKE_CLIENTS (concurrent citizens) change the load."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from api.app import create_app
from api.deps import AppDeps
from hotline.db import make_engine, session_factory, upgrade
from hotline.redis import EmbeddedRedis
from intake.guard import Limits
from tests.api_support import served
from tickets.departments import load_departments
from tickets.models import Ticket
from tickets.service import seed_departments

BASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
SUBMISSIONS = int(os.environ.get("BENCH_INTAKE_SUBMISSIONS", "400"))
CLIENTS = int(os.environ.get("BENCH_INTAKE_CLIENTS", "8"))
WARMUP = 5  # jieba's dictionary and the connection pools load on the first ones
DB = "hl_bench_intake"
TEXTS = (
    "我家楼道里有很浓的煤气味，在雁塔区小寨东路12号，请尽快派人来看看",
    "碑林区南稍门十字路口的路面塌了一个大坑，晚上骑车很危险",
    "小区门口的路灯坏了一个多月了，晚上出门很不方便，希望尽快修好",
    "楼下饭店每天夜里十二点以后还在装卸货物，噪音太大影响休息",
    "我想咨询一下灵活就业人员怎么缴纳养老保险，需要带什么材料",
    "未央区凤城五路地铁站旁边的共享单车堆满了人行道，行人没法走",
)


class Inbox:
    """The bench's phones: the codes the API sends, by number (the sender is the intake's
    pluggable port; a city wires its SMS gateway there)."""

    def __init__(self) -> None:
        self.codes: dict[str, str] = {}

    async def send(self, phone: str, text: str) -> None:
        found = re.search(r"\d{6}", text)
        if found is None:
            raise SystemExit(f"bench: no code in {text!r}")
        self.codes[phone] = found.group(0)


async def _submit(client: httpx.AsyncClient, inbox: Inbox, n: int) -> float:
    """One citizen's message, held and confirmed; its time in ms."""
    phone = f"139{n:08d}"
    body = {"text": TEXTS[n % len(TEXTS)], "phone": phone, "message_id": f"bench-{n}"}
    t = time.perf_counter()
    held = await client.post("/api/intake/messages/web", json=body)
    if held.status_code != 202:
        raise SystemExit(f"bench: hold answered {held.status_code} {held.text}")
    confirm = {"pending_id": held.json()["pending_id"], "code": inbox.codes.pop(phone)}
    done = await client.post("/api/intake/confirm", json=confirm)
    if done.status_code != 201:
        raise SystemExit(f"bench: confirm answered {done.status_code} {done.text}")
    return (time.perf_counter() - t) * 1000


async def _load(client: httpx.AsyncClient, inbox: Inbox, first: int, count: int) -> list[float]:
    todo = iter(range(first, first + count))
    times: list[float] = []

    async def citizen() -> None:
        for n in todo:  # one shared iterator: each number is taken once
            times.append(await _submit(client, inbox, n))

    async with asyncio.TaskGroup() as group:
        for _ in range(CLIENTS):
            group.create_task(citizen())
    return times


async def _measure(redis_url: str, database_url: str, data: Path) -> tuple[float, float, float]:
    """(accepted submissions per second, p50 ms of one submission, CPU ms per submission)."""
    redis: Redis = Redis.from_url(redis_url, decode_responses=True)
    await redis.flushdb()
    engine = make_engine(database_url)
    await upgrade(engine)
    sessions = session_factory(engine)
    async with sessions() as s:
        await seed_departments(s, load_departments())
    inbox = Inbox()
    deps = AppDeps(
        redis=redis,
        engine=engine,
        cities=("xa",),
        sessions=sessions,
        intake_dir=data,
        intake_sender=inbox,
        # every bench citizen writes from 127.0.0.1: the per-phone limit still counts
        intake_limits=Limits(per_ip=10 * (SUBMISSIONS + WARMUP)),
    )
    app = create_app(deps)
    try:
        async with (
            served(app) as base,
            httpx.AsyncClient(base_url=base, timeout=60) as client,
        ):
            await _load(client, inbox, 0, WARMUP)
            t, cpu = time.perf_counter(), time.process_time()
            times = await _load(client, inbox, WARMUP, SUBMISSIONS)
            elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
        async with sessions() as s:
            made = await s.scalar(select(func.count(Ticket.id)).where(Ticket.channel == "web"))
        if made != SUBMISSIONS + WARMUP:
            raise SystemExit(f"bench: {made} tickets for {SUBMISSIONS + WARMUP} submissions")
    finally:
        await redis.flushdb()
        await redis.aclose()
        await engine.dispose()
    return SUBMISSIONS / elapsed, sorted(times)[len(times) // 2], cpu * 1000 / SUBMISSIONS


def _print(suffix: str, result: tuple[float, float, float]) -> None:
    per_s, p50, cpu_ms = result
    print(f"BENCH intake_per_s{suffix} {per_s:.1f} submissions/s")
    print(f"BENCH intake_submission_p50_ms{suffix} {p50:.1f} ms")
    # CPU of this process (server and client, every thread) per submission: on a shared box
    # the rate follows the cores left over, this follows the code.
    print(f"BENCH intake_cpu_ms_per_submission{suffix} {cpu_ms:.1f} ms")


async def _admin(sql: str) -> None:
    url = make_url(BASE_URL).set(drivername="postgresql")
    conn = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _on_postgresql(redis_url: str, data: Path) -> None:
    try:
        await _admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"# intake bench: PostgreSQL not reachable ({type(exc).__name__}); skipped")
        return
    await _admin(f'CREATE DATABASE "{DB}"')
    try:
        url = make_url(BASE_URL).set(drivername="postgresql+asyncpg", database=DB)
        _print("_pg", await _measure(redis_url, url.render_as_string(hide_password=False), data))
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = EmbeddedRedis(root / "redis")
        print(
            f"# intake bench: uvicorn, {CLIENTS} concurrent citizens, {SUBMISSIONS} messages"
            " held and confirmed; embedded Redis + SQLite, then PostgreSQL"
        )
        try:
            database = f"sqlite+aiosqlite:///{root / 'intake.sqlite3'}"
            _print("", asyncio.run(_measure(server.url, database, root / "data")))
            redis_url = os.environ.get("BENCH_REDIS_URL") or server.url
            asyncio.run(_on_postgresql(redis_url, root / "data"))
        finally:
            server.close()
