"""Generated reports on disk (data_dir/reports): the weekly job writes them, the page lists them.

File names are the contract: weekly-2026-W48.html / .pdf / .xlsx. A file is written under a
temporary name and renamed, so a reader never sees half a report and two schedulers racing
leave one whole file.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reports import document
from reports.period import Week, last_full_week
from reports.weekly import build_weekly, report_json

NAME_RE = re.compile(r"^weekly-(\d{4}-W\d{2})\.(html|pdf|xlsx)$")


@dataclass(frozen=True, slots=True)
class StoredReport:
    name: str
    week: str
    format: str
    size: int
    written_at: datetime


def listing(directory: Path) -> list[StoredReport]:
    """The stored reports, newest week first."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = NAME_RE.match(path.name)
        if match is None or not path.is_file():
            continue
        stat = path.stat()
        found.append(
            StoredReport(
                name=path.name,
                week=match.group(1),
                format=match.group(2),
                size=stat.st_size,
                written_at=datetime.fromtimestamp(stat.st_mtime, UTC),
            )
        )
    return sorted(found, key=lambda r: (r.week, r.format), reverse=True)


def stored_path(directory: Path, name: str) -> Path | None:
    """The file of a listed name; None for any other name (no path escapes the directory)."""
    if NAME_RE.match(name) is None:
        return None
    path = directory / name
    return path if path.is_file() else None


def file_name(week: Week, fmt: str) -> str:
    return f"weekly-{week.label}.{fmt}"


def write_atomically(data: dict[str, Any], fmt: str, out: Path) -> Path:
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        document.write(data, fmt, partial)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return out


async def generate(
    sessions: async_sessionmaker[AsyncSession],
    week: Week,
    directory: Path,
    formats: tuple[str, ...] = document.FORMATS,
) -> list[Path]:
    """Build the week's report once and write it in each format that is not there yet."""
    missing = [f for f in formats if not (directory / file_name(week, f)).is_file()]
    if not missing:
        return []
    async with sessions() as session:
        data = report_json(await build_weekly(session, week))
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    # Chromium's print and openpyxl block: off the event loop.
    return [
        await asyncio.to_thread(write_atomically, data, f, directory / file_name(week, f))
        for f in missing
    ]


async def generate_due(
    sessions: async_sessionmaker[AsyncSession], directory: Path, now: datetime, tz: str
) -> list[Path]:
    """The weekly job: the last week that has ended, unless it is written already."""
    return await generate(sessions, last_full_week(now, tz), directory)
