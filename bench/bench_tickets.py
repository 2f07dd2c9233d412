"""The 工单 loop at a city's scale, on PostgreSQL: 1,000,000 tickets (a generator loads them
with COPY), then lifecycle steps on random open tickets (each one `tickets.loop.act`: row lock,
rules, update, audit event, commit) and the overdue / 清零 views over them.

The database is `BENCH_DATABASE_URL` (default: the local server's `postgres` user), in a fresh
database of its own that is dropped at the end. `BENCH_TICKETS` changes the count.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy.engine import make_url

from hotline.db import make_engine, session_factory, upgrade
from tickets.lifecycle import Action, Command, Role, State
from tickets.loop import Actor, act
from tickets.queries import clearance, overdue
from tickets.units import load_units, seed_units

BASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
COUNT = int(os.environ.get("BENCH_TICKETS", "1000000"))
STEPS = 1000
DB = "hl_bench_tickets"
NOW = datetime(2026, 11, 30, 6, tzinfo=UTC)
# A year of tickets: most are closed; the open ones are the recent weeks' and some stragglers.
OPEN_MIX = [
    (State.ACCEPTED, 0.005),
    (State.DISPATCHED, 0.01),
    (State.IN_PROGRESS, 0.03),
    (State.RETURNED, 0.002),
    (State.FINISHED, 0.008),
    (State.VISITED, 0.005),
]


def _dsn(database: str) -> str:
    url = make_url(BASE_URL).set(drivername="postgresql", database=database)
    return url.render_as_string(hide_password=False)


def _rows(unit_ids: list[int]) -> list[tuple[object, ...]]:
    rng = random.Random(12345)
    states, weights = zip(*OPEN_MIX, strict=True)
    closed = 1 - sum(weights)
    out = []
    for i in range(1, COUNT + 1):
        accepted = NOW - timedelta(seconds=rng.randrange(365 * 86400))
        state = rng.choices([*states, State.CLOSED], [*weights, closed])[0]
        unit = None if state in (State.ACCEPTED, State.RETURNED) else rng.choice(unit_ids)
        due = accepted + timedelta(days=rng.choice((1, 3, 7)) * 1.4)
        sign_due = accepted + timedelta(days=1.4) if state is State.DISPATCHED else None
        out.append(
            (
                i, f"{accepted:%Y%m%d}{i:07d}", f"bench-{i}", f"138{i % 10**8:08d}",
                "城乡建设·道路维修", "投诉", "路面塌陷", None, False, None, 3, accepted, due,
                state.value, None, accepted, False, False, False, unit, sign_due, None, None,
                None, False, 0, None, 0, 0, 0, None,
            )
        )  # fmt: skip
    return out


COLUMNS = [
    "id", "number", "call_id", "caller_number", "category", "request_type", "summary",
    "location", "urgent", "department_id", "tier_days", "accepted_at", "due_at", "status",
    "satisfaction", "updated_at", "enterprise", "visit_required", "visited", "lead_unit_id",
    "sign_due_at", "signed_at", "reply", "replied_at", "direct_answer", "extension_days",
    "extension_reason", "returns", "reopen_count", "supervised", "closed_at",
]  # fmt: skip


async def _load() -> None:
    admin = await asyncpg.connect(_dsn(make_url(BASE_URL).database or "postgres"))
    await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{DB}"')
    await admin.close()
    engine = make_engine(_dsn(DB).replace("postgresql://", "postgresql+asyncpg://", 1))
    await upgrade(engine)
    async with session_factory(engine)() as s:
        unit_ids = list((await seed_units(s, load_units())).values())
    await engine.dispose()
    t = time.perf_counter()
    conn = await asyncpg.connect(_dsn(DB))
    rows = _rows(unit_ids)
    await conn.copy_records_to_table("tickets", records=rows, columns=COLUMNS)
    await conn.execute("SELECT setval('tickets_id_seq', $1)", COUNT)
    await conn.execute("ANALYZE tickets")
    await conn.close()
    print(f"BENCH tickets_load_s {time.perf_counter() - t:.1f} s")


async def _steps() -> None:
    engine = make_engine(_dsn(DB).replace("postgresql://", "postgresql+asyncpg://", 1))
    sessions = session_factory(engine)
    conn = await asyncpg.connect(_dsn(DB))
    dispatched = await conn.fetch(
        "SELECT id, lead_unit_id FROM tickets WHERE status = $1 LIMIT $2",
        State.DISPATCHED.value,
        STEPS,
    )
    await conn.close()
    times: list[float] = []
    async with sessions() as s:
        for row in dispatched:
            unit = Actor("bench", Role.UNIT, row["lead_unit_id"])
            t = time.perf_counter()
            await act(s, row["id"], Command(Action.SIGN, Role.UNIT), unit, now=NOW)
            await act(
                s, row["id"], Command(Action.REPLY, Role.UNIT, reason="已办理"), unit, now=NOW
            )
            times.append((time.perf_counter() - t) * 1000 / 2)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"BENCH ticket_transition_p50_ms {statistics.median(times):.2f} ms")
    print(f"BENCH ticket_transition_p99_ms {p99:.2f} ms")
    scans, clear = [], []
    async with sessions() as s:
        for _ in range(5):
            t = time.perf_counter()
            page = await overdue(s, NOW)
            scans.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            rows = await clearance(s, NOW, NOW)
            clear.append((time.perf_counter() - t) * 1000)
    assert page and rows, "the generated year has overdue tickets"
    print(f"BENCH overdue_scan_ms {min(scans):.1f} ms")
    print(f"BENCH clearance_view_ms {min(clear):.1f} ms")
    await engine.dispose()


async def _drop() -> None:
    admin = await asyncpg.connect(_dsn(make_url(BASE_URL).database or "postgres"))
    await admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await admin.close()


def run() -> None:
    async def main() -> None:
        try:
            await _load()
            await _steps()
        finally:
            await _drop()

    asyncio.run(main())
