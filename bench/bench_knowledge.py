"""Knowledge-base search at 100,000 entries on PostgreSQL (BENCH_DATABASE_URL's server, a fresh
database of its own: `BENCH_KB_DB`, default hl_bench_kb) and on SQLite FTS5: the held-out
questions searched with the category hint, p50/p99, and how many find their entry in the top 3.
`BENCH_KB_ENTRIES` changes the count."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import yaml
from sqlalchemy.engine import make_url

from asr.draft import DraftBuilder
from hotline.db import make_engine, session_factory, upgrade
from knowledge import load
from knowledge.samples import sample_base
from knowledge.search import Hint, search

BASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
COUNT = int(os.environ.get("BENCH_KB_ENTRIES", "100000"))
DB = os.environ.get("BENCH_KB_DB", "hl_bench_kb")
NOW = datetime(2026, 12, 5, tzinfo=UTC)
ROUNDS = 10
HELDOUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "knowledge" / "heldout.yaml"


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def _measure(url: str, label: str) -> None:
    engine = make_engine(url)
    await upgrade(engine)
    sessions = session_factory(engine)
    drafts = sample_base(COUNT)
    t = time.perf_counter()
    async with sessions() as s:
        await load.publish_many(s, drafts, "bench")  # the bulk path (one index build)
    print(f"BENCH kb_load_{label}_s {time.perf_counter() - t:.1f} s")
    pairs = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
    hints = _hints([q for q, _ in pairs])
    times: list[float] = []
    found = 0
    async with sessions() as s:
        await search(s, "燃气", NOW)  # jieba's dictionary, as the serving process warms it
        for _ in range(ROUNDS):
            for (q, expected), hint in zip(pairs, hints, strict=True):
                t = time.perf_counter()
                hits = await search(s, q, NOW, limit=5, hint=hint)
                times.append((time.perf_counter() - t) * 1000)
                found += expected in [h.title for h in hits[:3]]
    await engine.dispose()
    suffix = "" if label == "pg" else f"_{label}"
    print(f"BENCH kb_search_p50_ms{suffix} {_pct(times, 0.5):.2f} ms")
    print(f"BENCH kb_search_p99_ms{suffix} {_pct(times, 0.99):.2f} ms")
    print(f"BENCH kb_search_top3_hit_rate{suffix} {found / (ROUNDS * len(pairs)):.2f} ratio")


def _hints(questions: list[str]) -> list[Hint | None]:
    """What the seat page sends along: the draft builder's category of the words, if any."""
    builder = DraftBuilder()
    hints = []
    for q in questions:
        cat = builder.category(q, builder.tokens(q))
        ok = cat != builder.rules.fallback_category
        hints.append(Hint(cat, builder.rules.categories[cat]) if ok else None)
    return hints


async def _admin(sql: str) -> None:
    url = make_url(BASE_URL).set(drivername="postgresql")
    conn = await asyncpg.connect(url.render_as_string(hide_password=False))
    await conn.execute(sql)
    await conn.close()


def run() -> None:
    async def main() -> None:
        await _admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        await _admin(f'CREATE DATABASE "{DB}"')
        try:
            url = make_url(BASE_URL).set(drivername="postgresql+asyncpg", database=DB)
            await _measure(url.render_as_string(hide_password=False), "pg")
        finally:
            await _admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        with tempfile.TemporaryDirectory() as tmp:
            await _measure(f"sqlite+aiosqlite:///{tmp}/kb.sqlite3", "sqlite")

    asyncio.run(main())
