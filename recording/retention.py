"""Retention: delete recording files older than N days, unless QA holds them or the call has
an open ticket. The row stays (``deleted_at`` set): the index, hashes and transcripts remain.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recording.models import Recording

log = logging.getLogger(__name__)


class HeldCalls(Protocol):
    """Which of these calls still need their recordings (an open ticket): asked of the
    tickets package by whoever runs the pruning, so recording/ never reads tickets' tables."""

    async def __call__(self, session: AsyncSession, call_ids: Collection[str]) -> set[str]: ...


@dataclass
class PruneReport:
    cutoff: datetime
    dry_run: bool
    deleted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # file already gone: row marked deleted
    kept_qa: int = 0
    kept_ticket: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    freed_bytes: int = 0


def _unlink(paths: Sequence[str]) -> list[tuple[str, str | None]]:
    """(path, None) when removed, (path, "missing") when absent, (path, reason) on error."""
    out: list[tuple[str, str | None]] = []
    for path in paths:
        try:
            Path(path).unlink()
            out.append((path, None))
        except FileNotFoundError:
            out.append((path, "missing"))
        except OSError as exc:
            out.append((path, exc.strerror or str(exc)))
    return out


async def prune(
    sessions: async_sessionmaker[AsyncSession],
    *,
    days: int,
    now: datetime,
    held: HeldCalls,
    dry_run: bool = False,
) -> PruneReport:
    if days < 1:
        raise ValueError(f"retention must be at least 1 day, got {days}")
    report = PruneReport(cutoff=now - timedelta(days=days), dry_run=dry_run)
    async with sessions() as session:
        old = (
            await session.scalars(
                select(Recording).where(
                    Recording.started_at < report.cutoff, Recording.deleted_at.is_(None)
                )
            )
        ).all()
        open_calls = await held(session, {r.call_id for r in old}) if old else set()
    doomed: list[Recording] = []
    for rec in old:
        if rec.qa_hold:
            report.kept_qa += 1
        elif rec.call_id in open_calls:
            report.kept_ticket += 1
        else:
            doomed.append(rec)
    if dry_run:
        report.deleted = [r.path for r in doomed]
        report.freed_bytes = sum(r.size_bytes for r in doomed)
        return report
    results = dict(await asyncio.to_thread(_unlink, [r.path for r in doomed]))
    gone: list[int] = []
    for rec in doomed:
        outcome = results[rec.path]
        if outcome is None:
            report.deleted.append(rec.path)
            report.freed_bytes += rec.size_bytes
        elif outcome == "missing":
            report.missing.append(rec.path)
        else:
            report.failed.append((rec.path, outcome))
            continue
        gone.append(rec.id)
    if gone:
        async with sessions.begin() as session:
            for rec in (
                await session.scalars(select(Recording).where(Recording.id.in_(gone)))
            ).all():
                rec.deleted_at = now
    log.info(
        "recordings: pruned %d file(s) older than %s (%d kept for QA, %d for open tickets)",
        len(report.deleted),
        report.cutoff.isoformat(timespec="seconds"),
        report.kept_qa,
        report.kept_ticket,
    )
    return report
