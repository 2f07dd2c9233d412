"""The database engine, sessions and migrations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from hotline.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
    # WAL lets the API read while a controller writes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        # A file: URI (e.g. ?mode=ro for a read-only copy) names a file that must exist.
        if path and path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    return create_async_engine(url, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def database(settings: Settings, read: bool = False) -> AsyncIterator[AsyncEngine]:
    """The primary; ``read``: the read replica where one is set (reports), else the primary."""
    engine = make_engine(settings.resolved_read_url if read else settings.resolved_database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def replica_behind(primary: AsyncEngine, replica: AsyncEngine, wait_s: float) -> str | None:
    """None once ``replica`` has replayed every commit ``primary`` had made when asked (waiting
    up to ``wait_s``), else how far behind it is. Only a PostgreSQL streaming replica (a hot
    standby) is waited for: any other read URL answers None at once."""
    if primary.dialect.name != "postgresql" or replica.dialect.name != "postgresql":
        return None
    async with primary.connect() as conn:
        target = (await conn.execute(text("SELECT pg_current_wal_lsn()::text"))).scalar_one()
    poll = text(
        # The position goes as text: asyncpg encodes a pg_lsn parameter from an int only.
        "SELECT pg_last_wal_replay_lsn()::text,"
        " pg_last_wal_replay_lsn() >= CAST(:t AS text)::pg_lsn"
    )
    end = time.monotonic() + wait_s
    async with replica.connect() as conn:
        while True:
            replayed, caught_up = (await conn.execute(poll, {"t": target})).one()
            await conn.rollback()  # each poll its own transaction
            # NULL: not a standby (the primary itself, or a copy that is not streaming).
            if replayed is None or caught_up:
                return None
            if time.monotonic() >= end:
                return (
                    f"the read replica has not replayed the primary's WAL up to {target} "
                    f"within {wait_s:g} s (it is at {replayed})"
                )
            await asyncio.sleep(0.1)


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "heads")


def _current(connection: Connection) -> tuple[set[str], set[str]]:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    current = set(MigrationContext.configure(connection).get_current_heads())
    return current, heads


async def upgrade(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def migration_level(engine: AsyncEngine) -> tuple[set[str], set[str]]:
    """(revisions applied, revisions the code expects)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)
