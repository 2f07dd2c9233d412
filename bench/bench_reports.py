"""The weekly report over a generated year on PostgreSQL (issue 18): 3,000,000 tickets and
10,000,000 call records with their callbacks, transfers, visits, recordings, transcripts and
drafts, then the report of the year's last week, timed whole and phase by phase.

The year lives in a database of its own, `reportsbench` on `BENCH_DATABASE_URL`'s server. It
is kept after the run with a marker row: the next run with the same scale and generator
version reuses it (the report is read-only), any other run drops and reloads it.
`BENCH_REPORTS_CALLS` changes the scale (tickets are always 3 in 10 calls);
`BENCH_REPORTS_RELOAD=1` forces a reload; `BENCH_REPORTS_EXPLAIN=<file>` writes EXPLAIN
ANALYZE of every statement the report runs to that file.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import reports_explain, reports_load
from bench.reports_year import REPORT_WEEK
from hotline.db import make_engine, session_factory
from reports import document
from reports.archive import generate
from reports.callers import repeat_callers
from reports.calls import call_centre
from reports.period import Week, week_of
from reports.topics import _docs, category_trends, cluster
from reports.units import unit_figures
from reports.weekly import _accepted, build_weekly, report_json

BASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
CALLS = int(os.environ.get("BENCH_REPORTS_CALLS", "10000000"))
RELOAD = os.environ.get("BENCH_REPORTS_RELOAD") == "1"
DB = "reportsbench"


def _dsn(database: str) -> str:
    url = make_url(BASE_URL).set(drivername="postgresql", database=database)
    return url.render_as_string(hide_password=False)


def _engine() -> AsyncEngine:
    return make_engine(_dsn(DB).replace("postgresql://", "postgresql+asyncpg://", 1))


def _formats() -> tuple[str, ...]:
    try:
        document.chromium()
    except document.RenderError:
        print("bench: no Chromium, the PDF is left out of weekly_report_s")
        return ("html", "xlsx")
    return document.FORMATS


async def _whole(week: Week) -> None:
    """What the weekly job does: build once, write every format."""
    engine = _engine()
    formats = _formats()
    with tempfile.TemporaryDirectory(prefix="reportsbench-") as tmp:
        t = time.perf_counter()
        written = await generate(session_factory(engine), week, Path(tmp), formats)
        elapsed = time.perf_counter() - t
        sizes = ", ".join(f"{p.suffix[1:]} {p.stat().st_size // 1024} KiB" for p in written)
    await engine.dispose()
    print(f"bench: weekly report {week.label} as {', '.join(formats)} ({sizes})")
    print(f"BENCH weekly_report_s {elapsed:.2f} s")


async def _sections(week: Week) -> dict[str, float]:
    engine = _engine()
    times: dict[str, float] = {}
    async with session_factory(engine)() as s:
        t = time.perf_counter()
        await _accepted(s, week)
        await _accepted(s, week.shifted(-1))
        times["accepted"] = time.perf_counter() - t
        t = time.perf_counter()
        await unit_figures(s, week.start, week.end)
        times["units"] = time.perf_counter() - t
        t = time.perf_counter()
        await category_trends(s, week)
        times["topic_categories"] = time.perf_counter() - t
        t = time.perf_counter()
        current, this_step, _ = await _docs(s, week, current=True)
        previous, prev_step, _ = await _docs(s, week, current=False)
        times["topic_documents"] = time.perf_counter() - t
        t = time.perf_counter()
        topics = await asyncio.to_thread(cluster, current + previous, this_step, prev_step)
        times["topic_clustering"] = time.perf_counter() - t
        t = time.perf_counter()
        await call_centre(s, week)
        times["calls"] = time.perf_counter() - t
        t = time.perf_counter()
        await repeat_callers(s, week.end)
        times["callers"] = time.perf_counter() - t
    await engine.dispose()
    docs = len(current) + len(previous)
    print(
        f"bench: clustered {docs} documents (steps {this_step}/{prev_step}), {len(topics)} topics"
    )
    for topic in topics[:3]:
        terms = "、".join(topic.terms)
        print(f"bench: topic {terms} this week {topic.this_week} rise {topic.rise:.0f}")
    return times


async def _documents(week: Week) -> dict[str, float]:
    engine = _engine()
    async with session_factory(engine)() as s:
        data = report_json(await build_weekly(s, week))
    await engine.dispose()
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="reportsbench-") as tmp:
        for fmt in _formats():
            t = time.perf_counter()
            await asyncio.to_thread(document.write, data, fmt, Path(tmp) / f"weekly.{fmt}")
            times[f"document_{fmt}"] = time.perf_counter() - t
    return times


async def _main() -> None:
    await reports_load.ensure(_dsn, DB, CALLS, reload=RELOAD)
    week = week_of(REPORT_WEEK)
    await _whole(week)
    phases = {**await _sections(week), **await _documents(week)}
    for name, seconds in phases.items():
        print(f"BENCH weekly_{name}_s {seconds:.2f} s")
    sql = sum(
        v for k, v in phases.items() if k not in ("topic_clustering",) and "document" not in k
    )
    print(f"BENCH weekly_sql_s {sql:.2f} s")
    target = os.environ.get("BENCH_REPORTS_EXPLAIN")
    if target:
        await reports_explain.explain_all(_engine(), week, Path(target))


def run() -> None:
    asyncio.run(_main())
