"""EXPLAIN ANALYZE of every statement the weekly report runs, as it runs them.

The statements are caught on their way to the driver while the report is built, then each
is run again under EXPLAIN (ANALYZE, BUFFERS) with the same parameters: the plans are the
real ones at the bench's scale, not guesses from a hand-copied query.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.db import session_factory
from reports.period import Week
from reports.weekly import build_weekly


async def explain_all(engine: AsyncEngine, week: Week, out: Path) -> None:
    caught: list[tuple[str, Any]] = []

    def catch(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            caught.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", catch)
    async with session_factory(engine)() as s:
        await build_weekly(s, week)
    event.remove(engine.sync_engine, "before_cursor_execute", catch)
    lines: list[str] = []
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        for i, (statement, params) in enumerate(caught, start=1):
            plan = await driver.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *params)
            text = [row[0] for row in plan]
            lines += [f"-- statement {i}", statement, "", *text, ""]
            print(f"bench: statement {i}: {text[-1].strip()}; {text[0].strip()[:90]}")
    await engine.dispose()
    await asyncio.to_thread(out.write_text, "\n".join(lines), encoding="utf-8")
    print(f"bench: {len(caught)} plans in {out}")
