"""The 政策知识库 for the API: suggestions for seats, editing with approval, import/export."""

from __future__ import annotations

import asyncio
from datetime import datetime

from api.services.intake import drafter
from knowledge import bulk, index, search, service
from knowledge.models import KbEntry, KbRevision
from knowledge.service import Draft
from store.sessions import Sessions


async def suggest(
    sessions: Sessions, text: str, now: datetime, limit: int
) -> tuple[str | None, list[search.Hit]]:
    """Entries for the live draft's words, ranked with the category the builder reads in
    them (as the seat's ticket draft is made); only published, valid ones."""
    hint = await drafter().hint(text)
    async with sessions() as session:
        hits = await search.search(session, text, now, limit=limit, hint=hint)
    return (hint.category if hint else None), hits


async def propose(
    sessions: Sessions, draft: Draft, author: str, entry_id: int | None
) -> KbRevision:
    async with sessions() as session:
        return await service.propose(session, draft, author, entry_id)


async def decide(
    sessions: Sessions, revision_id: int, reviewer: str, approve: bool, note: str
) -> KbRevision:
    async with sessions() as session:
        return await service.decide(session, revision_id, reviewer, approve, note)


async def pending(sessions: Sessions, limit: int, offset: int) -> list[KbRevision]:
    async with sessions() as session:
        return await service.pending(session, limit, offset)


async def entries(
    sessions: Sessions, limit: int, offset: int, category: str | None, title: str | None
) -> list[KbEntry]:
    async with sessions() as session:
        return await service.listing(session, limit, offset, category, title)


async def history(sessions: Sessions, entry_id: int) -> list[KbRevision]:
    async with sessions() as session:
        if await session.get(KbEntry, entry_id) is None:
            raise service.KbNotFound(f"没有编号为 {entry_id} 的知识条目")
        return await service.history(session, entry_id)


async def entry(sessions: Sessions, entry_id: int) -> KbEntry:
    async with sessions() as session:
        found = await service.published_entry(session, entry_id)
    if found is None:
        raise service.KbNotFound(f"没有编号为 {entry_id} 的知识条目")
    return found


async def withdraw(sessions: Sessions, entry_id: int) -> None:
    async with sessions() as session:
        await service.withdraw(session, entry_id)


async def import_file(
    sessions: Sessions, text: str, fmt: str, author: str
) -> tuple[int, list[bulk.BadRow]]:
    """Every good entry becomes a pending revision for review; bad ones are reported."""
    good, bad = bulk.parse_csv(text) if fmt == "csv" else bulk.parse_markdown(text)
    async with sessions() as session:
        await bulk.import_drafts(session, good, author)
    return len(good), bad


async def export(sessions: Sessions, fmt: str) -> str:
    async with sessions() as session:
        published = await bulk.published(session)
    return bulk.to_csv(published) if fmt == "csv" else bulk.to_markdown(published)


async def warm() -> None:
    """Load the draft builder's rules and both jieba dictionaries now (about a second of CPU)
    rather than in the first seat's first suggestion; the serving process calls this at start."""
    await drafter().hint("燃气")
    await asyncio.to_thread(index.words, "燃气")
