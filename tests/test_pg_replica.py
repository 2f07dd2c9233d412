"""Reports on a real PostgreSQL streaming replica (HOTLINE_DATABASE_READ_URL): a primary and a
hot standby started here (tests/pg_replica.py). The weekly report and the ticket statistics
read from the replica give the primary's figures once it has replayed; while it lags they
give its older ones, which is how the tests tell that the reads really go there; and a write
through the read URL is refused. Skipped only where the PostgreSQL server binaries are missing.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.calls.tables import CallRecord
from api.services import users
from hotline.db import database, make_engine, session_factory, upgrade
from hotline.settings import Settings
from reports.period import last_full_week
from reports.weekly import build_weekly, report_json
from tests import pg_replica
from tests.api_support import CHEAP_HASH, PASSWORD
from tests.reports_support import WEEK, generate_month
from tests.test_api_tickets import Draft
from tests.test_cli import ROOT, free_port
from tests.test_reports_output import hotline
from tickets import stats as tstats
from tickets.models import Ticket, Unit
from tickets.service import create_ticket

pytestmark = [
    pytest.mark.skipif(pg_replica.missing() is not None, reason=str(pg_replica.missing())),
    pytest.mark.slow,
]

SETVAL = "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
SPAN = {"since": "2026-10-01T00:00:00+08:00"}  # the whole generated month


@pytest.fixture(scope="module")
def pair() -> Iterator[pg_replica.Pair]:
    """Primary and replica; the schema migrated and a month of tickets and calls written on
    the primary only, the replica waited for."""
    with pg_replica.primary_and_replica() as started:

        async def go() -> None:
            engine = make_engine(started.primary)
            try:
                await upgrade(engine)
                await generate_month(session_factory(engine))
                async with engine.begin() as conn:
                    # The month is written with its own ids: tickets created after it take
                    # the next ones, not 1.
                    await conn.execute(text(SETVAL.format(table="tickets")))
                    await conn.execute(text(SETVAL.format(table="units")))
            finally:
                await engine.dispose()
            await pg_replica.wait_replayed(started)

        asyncio.run(go())
        yield started


@pytest.fixture
async def primary(pair: pg_replica.Pair) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(pair.primary)
    yield engine
    await engine.dispose()


@pytest.fixture
async def paused(pair: pg_replica.Pair) -> AsyncIterator[pg_replica.Pair]:
    """The replica lagging: it receives the primary's WAL and applies none of it."""
    await pg_replica.pause_replay(pair)
    try:
        yield pair
    finally:
        await pg_replica.resume_replay(pair)
        await pg_replica.wait_replayed(pair)


def calls_total(workbook: Path) -> tuple[Any, ...]:
    """The weekly document's 话务 line for all cities: (全部, entered, offered, ...)."""
    return tuple(list(load_workbook(workbook)["话务"].iter_rows(values_only=True))[-1])


def every_cell(workbook: Path) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(workbook)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


async def primary_week(engine: AsyncEngine) -> dict[str, Any]:
    async with session_factory(engine)() as session:
        return report_json(await build_weekly(session, WEEK))


def answered_call(n: int, entered: datetime) -> dict[str, object]:
    return {
        "call_id": f"late-{n}",
        "city": "xa",
        "caller_num": f"1350000{n:04d}",
        "skill": "general",
        "ivr_path": "1",
        "entered_at": entered,
        "queued_at": entered + timedelta(seconds=5),
        "answered_at": entered + timedelta(seconds=9),
        "ended_at": entered + timedelta(seconds=120),
        "seat_id": "1001",
        "answer_city": "xa",
        "overflowed": False,
        "outcome": "completed",
    }


def weekly_xlsx(pair: pg_replica.Pair, out: Path, read_url: str) -> Path:
    args = ("report", "weekly", "--week", WEEK.label, "--format", "xlsx", "--out", str(out))
    done = hotline(*args, database_url=pair.primary, data_dir=out.parent, read_url=read_url)
    assert done.returncode == 0, done.stderr
    return out


def test_the_weekly_report_from_the_replica_is_the_primary_s(
    pair: pg_replica.Pair, tmp_path: Path
) -> None:
    """Every cell of `hotline report weekly` read through the replica, the same as read from
    the primary (HOTLINE_DATABASE_READ_URL unset)."""
    from_replica = weekly_xlsx(pair, tmp_path / "replica.xlsx", pair.replica)
    from_primary = weekly_xlsx(pair, tmp_path / "primary.xlsx", "")
    assert every_cell(from_replica) == every_cell(from_primary)
    assert calls_total(from_replica)[1] > 100  # the generated week, not an empty one


async def test_a_lagging_replica_gives_its_older_figures_until_it_has_replayed(
    pair: pg_replica.Pair, primary: AsyncEngine, paused: pg_replica.Pair, tmp_path: Path
) -> None:
    before = (await primary_week(primary))["calls"]["total"]
    async with primary.begin() as conn:  # three calls of the report's week, arriving late
        await conn.execute(
            insert(CallRecord),
            [answered_call(n, WEEK.start + timedelta(days=3, minutes=n)) for n in range(3)],
        )
    after = (await primary_week(primary))["calls"]["total"]
    assert after["entered"] == before["entered"] + 3
    # No error, no warning: the replica answers with what it has replayed.
    lagging = calls_total(weekly_xlsx(pair, tmp_path / "lagging.xlsx", pair.replica))
    assert lagging[1:3] == (before["entered"], before["offered"])
    await pg_replica.resume_replay(paused)
    await pg_replica.wait_replayed(paused)
    replayed = calls_total(weekly_xlsx(pair, tmp_path / "replayed.xlsx", pair.replica))
    assert replayed[1:3] == (after["entered"], after["offered"])


async def test_a_write_through_the_read_url_is_refused(
    pair: pg_replica.Pair, primary: AsyncEngine, tmp_path: Path
) -> None:
    """The reports' engine, as `hotline report` opens it, is on a read-only server."""
    settings = Settings(
        database_url=pair.primary, database_read_url=pair.replica, data_dir=tmp_path
    )
    async with database(settings, read=True) as engine, session_factory(engine)() as session:
        units = (await session.execute(select(func.count(Unit.id)))).scalar_one()
        assert units == 12  # it reads
        session.add(Unit(name="只读副本上的单位", level="市"))
        with pytest.raises(DBAPIError, match="cannot execute INSERT in a read-only"):
            await session.commit()
    async with session_factory(primary)() as session:
        assert (await session.execute(select(func.count(Unit.id)))).scalar_one() == 12


async def _serve(pair: pg_replica.Pair, tmp_path: Path, port: int) -> asyncio.subprocess.Process:
    """`hotline serve --api-only` as an operator runs it with a replica for reports."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env = {
        **clean,
        "PYTHONPATH": str(ROOT),
        "HOTLINE_DATABASE_URL": pair.primary,
        "HOTLINE_DATABASE_READ_URL": pair.replica,
        "HOTLINE_DATA_DIR": str(tmp_path),  # embedded Redis: nothing shared with other tests
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline", "serve", "--api-only", "--port", str(port),
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def _login(client: httpx.AsyncClient) -> dict[str, str]:
    login = {"username": "disp-r", "password": PASSWORD}
    for _ in range(300):  # the process starts
        try:
            answer = await client.post("/api/auth/login", json=login)
        except httpx.TransportError:
            await asyncio.sleep(0.1)
            continue
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['token']}"}
    raise AssertionError("the API never answered")


async def test_the_api_reads_statistics_and_the_report_from_the_replica(
    pair: pg_replica.Pair, primary: AsyncEngine, tmp_path: Path
) -> None:
    sessions = session_factory(primary)
    await users.create(sessions, "disp-r", PASSWORD, "dispatcher", None, password_hash=CHEAP_HASH)
    span = {**SPAN, "until": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    since, until = (datetime.fromisoformat(span[k]) for k in ("since", "until"))

    async def on_primary() -> list[dict[str, Any]]:
        async with sessions() as session:
            rows = await tstats.breakdown(session, since, until, ["channel"])
        return [{"group": r.group, "total": r.total} for r in rows]

    port = free_port()
    proc = await _serve(pair, tmp_path, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            auth = await _login(client)  # the account was written on the primary just now

            async def on_api() -> list[dict[str, Any]]:
                answer = await client.get("/api/tickets-stats", params=span, headers=auth)
                assert answer.status_code == 200, answer.text
                return [{"group": r["group"], "total": r["total"]} for r in answer.json()]

            before = await on_primary()
            assert await on_api() == before and sum(r["total"] for r in before) > 800
            weekly = await client.get(f"/api/reports/weekly?week={WEEK.label}", headers=auth)
            assert weekly.status_code == 200, weekly.text
            expected = (await primary_week(primary))["calls"]["total"]
            assert weekly.json()["calls"]["total"] == expected

            await pg_replica.pause_replay(pair)
            try:
                async with sessions() as session:
                    ticket = await create_ticket(
                        session, Draft(), call_id="c-lag", caller_number="13700001111"
                    )
                after = await on_primary()
                assert sum(r["total"] for r in after) == sum(r["total"] for r in before) + 1
                assert await on_api() == before  # the replica has not replayed the ticket
                # The ticket's own page reads the primary: the new ticket is there at once.
                page = await client.get(f"/api/tickets/{ticket.id}", headers=auth)
                assert page.status_code == 200 and page.json()["number"] == ticket.number
            finally:
                await pg_replica.resume_replay(pair)
            await pg_replica.wait_replayed(pair)
            assert await on_api() == after
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert "Traceback" not in out.decode(), out.decode()


async def test_a_ticket_written_on_the_primary_is_counted_once_replayed(
    pair: pg_replica.Pair, primary: AsyncEngine
) -> None:
    """The replica's own figures, read with the product's statistics query, follow the
    primary's writes within the replay wait (reported by the helper)."""
    replica = make_engine(pair.replica)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    until = datetime.now(UTC) + timedelta(days=1)
    try:
        async with session_factory(primary)() as session:
            await create_ticket(session, Draft(), call_id="c-once", caller_number="13700002222")
        async with session_factory(primary)() as session:
            on_primary = await tstats.breakdown(session, since, until, [])
        await pg_replica.wait_replayed(pair)
        async with session_factory(replica)() as session:
            on_replica = await tstats.breakdown(session, since, until, [])
            count = select(func.count(Ticket.id)).where(Ticket.call_id == "c-once")
            assert (await session.execute(count)).scalar_one() == 1
        assert on_replica == on_primary
    finally:
        await replica.dispose()


def schedule_once(pair: pg_replica.Pair, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """The weekly job's one check, as a timer runs it: last week's report into data_dir."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env = {
        **clean,
        "PYTHONPATH": str(ROOT),
        "HOTLINE_DATABASE_URL": pair.primary,
        "HOTLINE_DATABASE_READ_URL": pair.replica,
        "HOTLINE_DATA_DIR": str(data_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "hotline", "report", "schedule", "--once", "--replica-wait", "1"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


async def test_the_weekly_job_waits_for_a_lagging_replica(
    pair: pg_replica.Pair, primary: AsyncEngine, tmp_path: Path
) -> None:
    """The job writes last week's report once and never again: from a replica that has not
    replayed the week's last calls it would keep the short figures for good. So it writes
    only once the replica has replayed everything the primary had when the check began."""
    week = last_full_week(datetime.now(UTC))
    await pg_replica.pause_replay(pair)
    try:
        async with primary.begin() as conn:  # calls of last week the replica has not replayed
            await conn.execute(
                insert(CallRecord),
                [answered_call(100 + n, week.end - timedelta(minutes=n + 1)) for n in range(2)],
            )
        lagging = await asyncio.to_thread(schedule_once, pair, tmp_path)
        assert lagging.returncode == 1, lagging.stderr
        assert "read replica has not replayed" in lagging.stderr, lagging.stderr
        assert not (tmp_path / "reports").exists() or not list((tmp_path / "reports").iterdir())
    finally:
        await pg_replica.resume_replay(pair)
    done = await asyncio.to_thread(schedule_once, pair, tmp_path)
    assert done.returncode == 0, done.stderr
    async with session_factory(primary)() as session:
        expected = report_json(await build_weekly(session, week))["calls"]["total"]
    written = tmp_path / "reports" / f"weekly-{week.label}.xlsx"
    assert calls_total(written)[1:3] == (expected["entered"], expected["offered"])


async def test_the_weekly_job_writes_once_a_restarted_replica_answers(
    pair: pg_replica.Pair, primary: AsyncEngine, tmp_path: Path
) -> None:
    """The replica down at the job's checks (a restart, an upgrade): each check says why and
    writes nothing; once the replica answers and has replayed, the report is written."""
    week = last_full_week(datetime.now(UTC))
    await asyncio.to_thread(pg_replica.stop_replica, pair)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env = {
        **clean,
        "PYTHONPATH": str(ROOT),
        "HOTLINE_DATABASE_URL": pair.primary,
        "HOTLINE_DATABASE_READ_URL": pair.replica,
        "HOTLINE_DATA_DIR": str(tmp_path),
    }
    args = ["report", "schedule", "--interval", "1", "--replica-wait", "0"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline", *args,
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stderr = proc.stderr
    assert stderr is not None
    lines: list[str] = []

    async def until(text: str, count: int) -> None:
        while sum(text in line for line in lines) < count:
            line = (await asyncio.wait_for(stderr.readline(), 60)).decode()
            assert line, "".join(lines)  # the job ended
            lines.append(line)

    try:
        await until("cannot compare the read replica with the primary", 2)
        async with primary.begin() as conn:  # written while the replica is down
            await conn.execute(
                insert(CallRecord), [answered_call(200, week.end - timedelta(hours=1))]
            )
        await asyncio.to_thread(pg_replica.start_replica, pair)
        await until("weekly report written", 3)
    finally:
        proc.terminate()
        rest = (await asyncio.wait_for(proc.communicate(), 30))[1].decode()
        if not (pair.replica_dir / "postmaster.pid").exists():  # the next tests need it
            await asyncio.to_thread(pg_replica.start_replica, pair)
    assert proc.returncode == 0 and "Traceback" not in "".join(lines) + rest, rest
    async with session_factory(primary)() as session:
        expected = report_json(await build_weekly(session, week))["calls"]["total"]
    written = tmp_path / "reports" / f"weekly-{week.label}.xlsx"
    assert calls_total(written)[1:3] == (expected["entered"], expected["offered"])


async def test_replay_cancels_a_long_read_unless_the_replica_sends_feedback(
    pair: pg_replica.Pair,
) -> None:
    """What docs/scaling.md advises for year-long reports on a hot standby: VACUUM on the
    primary removes rows a report on the replica still reads, and replaying that cancels the
    report (here at once: max_standby_streaming_delay = 0, the default waits 30 s); with
    hot_standby_feedback on, the primary keeps the rows and the report reads on."""
    conn = functools.partial(
        asyncpg.connect, host="127.0.0.1", user="postgres", database=pg_replica.DATABASE
    )
    primary, replica = await conn(port=pair.primary_port), await conn(port=pair.replica_port)
    readers: list[asyncpg.Connection] = []

    async def set_replica(**values: str) -> None:
        for name, value in values.items():
            await replica.execute(f"ALTER SYSTEM SET {name} = {value}")
        await replica.execute("SELECT pg_reload_conf()")

    async def reader_in_a_snapshot(table: str) -> asyncpg.Connection:
        """A report halfway: a repeatable-read transaction that has read the table once."""
        reader = await conn(port=pair.replica_port)
        readers.append(reader)
        await reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        assert await reader.fetchval(f"SELECT count(*) FROM {table}") == 1000
        return reader

    async def vacuumed_away(table: str) -> None:
        await primary.execute(f"DELETE FROM {table}")
        await primary.execute(f"VACUUM {table}")
        await pg_replica.wait_replayed(pair)

    try:
        await set_replica(max_standby_streaming_delay="0", wal_receiver_status_interval="1")
        for table in ("probe_a", "probe_b"):
            await primary.execute(f"CREATE TABLE {table} AS SELECT generate_series(1, 1000) g")
        await pg_replica.wait_replayed(pair)

        reader = await reader_in_a_snapshot("probe_a")
        await vacuumed_away("probe_a")
        # A report between two statements loses its connection; the replica's log says why.
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError)):
            await reader.fetchval("SELECT count(*) FROM probe_a")
        log = (pair.root / "replica.log").read_text()
        assert "terminating connection due to conflict with recovery" in log, log[-2000:]

        await set_replica(hot_standby_feedback="on")
        reader = await reader_in_a_snapshot("probe_b")
        held = await reader.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
        # The replica reports its oldest snapshot once a second; the primary's VACUUM keeps
        # what that snapshot sees from then on.
        fed_back = (
            "SELECT bool_or(backend_xmin::text::bigint <= $1::bigint) FROM pg_stat_replication"
        )
        for _ in range(100):
            if await primary.fetchval(fed_back, int(held)):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the replica never reported its snapshot to the primary")
        await vacuumed_away("probe_b")
        assert await reader.fetchval("SELECT count(*) FROM probe_b") == 1000
    finally:
        for reader in readers:
            await reader.close()
        for name in ("max_standby_streaming_delay", "wal_receiver_status_interval"):
            await replica.execute(f"ALTER SYSTEM RESET {name}")
        await replica.execute("ALTER SYSTEM RESET hot_standby_feedback")
        await replica.execute("SELECT pg_reload_conf()")
        await primary.execute("DROP TABLE IF EXISTS probe_a, probe_b")
        await primary.close()
        await replica.close()
