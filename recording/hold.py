"""QA hold (留存): a held call's recordings are skipped by retention (recording.retention)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recording.models import Recording


async def set_hold(sessions: async_sessionmaker[AsyncSession], call_id: str, held: bool) -> int:
    """Hold or release every recording of the call (mixed and per speaker: retention looks at
    each file); returns how many rows the call has. One UPDATE, so a prune running meanwhile
    sees either all files of the call held or none."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(Recording).where(Recording.call_id == call_id).values(qa_hold=held)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
