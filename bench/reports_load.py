"""Load the generated year (bench.reports_year) into its own database, or reuse a loaded one.

The tables are created by the migrations; their secondary indexes and their unique and
foreign-key constraints are dropped before the load and put back after it (one sort per
index instead of ten million inserts into each, one join per foreign key instead of a
trigger per row), exactly as the migrations defined them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import asyncpg

from bench import reports_year as year
from hotline.db import make_engine, session_factory, upgrade
from reports.period import week_of
from reports.topics import PREVIOUS_WEEKS
from tickets.units import load_units, seed_units

VERSION = "reports-year-2"
TABLES = [
    "call_records", "tickets", "callback_tasks", "callback_attempts", "call_transfers",
    "visit_calls", "recordings", "transcripts", "call_drafts",
]  # fmt: skip
SEQUENCES = {
    "call_records": "call_records_id_seq",
    "tickets": "tickets_id_seq",
    "callback_tasks": "callback_tasks_id_seq",
    "recordings": "recordings_id_seq",
}
MARKER = "CREATE TABLE IF NOT EXISTS bench_marker (version text, calls bigint, load_s float8)"

INDEXES = """
SELECT pg_get_indexdef(i.indexrelid), i.indexrelid::regclass::text
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
WHERE c.relname = ANY($1::text[]) AND NOT i.indisprimary
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
"""
CONSTRAINTS = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype
FROM pg_constraint
WHERE conrelid::regclass::text = ANY($1::text[]) AND contype IN ('u', 'f')
ORDER BY contype
"""


async def _loaded(dsn: str, calls: int) -> bool:
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        return False
    try:
        found = await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE tablename = 'bench_marker'"
        )
        if not found:
            return False
        row = await conn.fetchrow("SELECT version, calls, load_s FROM bench_marker")
    finally:
        await conn.close()
    if row is None or row["version"] != VERSION or row["calls"] != calls:
        return False
    print(f"bench: reusing {calls} calls loaded before (load took {row['load_s']:.0f} s)")
    return True


async def _create(dsn_of: Callable[[str], str], db: str) -> list[int]:
    admin = await asyncpg.connect(dsn_of("postgres"))
    await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{db}"')
    await admin.close()
    engine = make_engine(dsn_of(db).replace("postgresql://", "postgresql+asyncpg://", 1))
    await upgrade(engine)
    async with session_factory(engine)() as s:
        unit_ids = sorted((await seed_units(s, load_units())).values())
    await engine.dispose()
    return unit_ids


async def _timed(conn: asyncpg.Connection, name: str, sql: str) -> None:
    t = time.perf_counter()
    status = await conn.execute(sql)
    print(f"BENCH reports_load_{name}_s {time.perf_counter() - t:.1f} s  ({status})")


async def _rows(conn: asyncpg.Connection, unit_ids: list[int], calls: int) -> None:
    week = week_of(year.REPORT_WEEK)
    since = week.start - timedelta(weeks=PREVIOUS_WEEKS)
    await _timed(conn, "calls", year.calls_sql(calls))
    await _timed(conn, "tickets", year.tickets_sql(unit_ids, week.start))
    await _timed(conn, "callback_tasks", year.CALLBACK_TASKS)
    await _timed(conn, "callback_attempts", year.CALLBACK_ATTEMPTS)
    await _timed(conn, "transfers", year.TRANSFERS)
    await _timed(conn, "visits", year.visits_sql())
    # Recordings, transcripts and drafts of the weeks the report reads: the topics' five
    # weeks (the repeat callers' 30 days are inside them).
    await _timed(conn, "recordings", year.recordings_sql(since))
    await _timed(conn, "transcripts", year.transcripts_sql())
    await _timed(conn, "drafts", year.drafts_sql(since))


async def _strip(
    conn: asyncpg.Connection, indexes: list[asyncpg.Record], constraints: list[asyncpg.Record]
) -> None:
    # Foreign keys first: a unique constraint may not go while a foreign key leans on it.
    for table, name, _, _ in constraints:
        await conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for _, name in indexes:
        await conn.execute(f"DROP INDEX {name}")
    print(f"bench: load without {len(indexes)} indexes and {len(constraints)} constraints")


async def ensure(dsn_of: Callable[[str], str], db: str, calls: int, reload: bool) -> None:
    """The year is loaded at this scale when this returns."""
    if not reload and await _loaded(dsn_of(db), calls):
        # Migrations added since the load (a new index) apply to the kept year.
        engine = make_engine(dsn_of(db).replace("postgresql://", "postgresql+asyncpg://", 1))
        t = time.perf_counter()
        await upgrade(engine)
        await engine.dispose()
        print(f"BENCH reports_upgrade_s {time.perf_counter() - t:.1f} s")
        return
    started = time.perf_counter()
    unit_ids = await _create(dsn_of, db)
    conn = await asyncpg.connect(dsn_of(db))
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '512MB'")
        await conn.execute("SET work_mem = '64MB'")
        await conn.execute(year.FUNCTIONS)
        indexes = await conn.fetch(INDEXES, TABLES)
        constraints = await conn.fetch(CONSTRAINTS, TABLES)
        await _strip(conn, list(indexes), list(constraints))
        await _rows(conn, unit_ids, calls)
        t = time.perf_counter()
        for table, name, definition, _ in reversed(constraints):
            await conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for definition, _ in indexes:
            await conn.execute(definition)
        print(f"BENCH reports_load_indexes_s {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        for table, sequence in SEQUENCES.items():
            await conn.execute(f"SELECT setval('{sequence}', (SELECT max(id) FROM {table}))")
        await conn.execute("VACUUM ANALYZE")
        print(f"BENCH reports_load_vacuum_analyze_s {time.perf_counter() - t:.1f} s")
        load_s = time.perf_counter() - started
        await conn.execute(MARKER)
        await conn.execute("INSERT INTO bench_marker VALUES ($1, $2, $3)", VERSION, calls, load_s)
    finally:
        await conn.close()
    print(f"BENCH reports_load_s {load_s:.1f} s")
