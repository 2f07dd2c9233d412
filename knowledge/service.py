"""Editing the knowledge base: an editor proposes (a new entry, or a change of one at a given
version), a reviewer approves or rejects; approval publishes, bumps the version and reindexes.
A change proposed against an older version than the published one is refused at approval."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge import index
from knowledge.models import KbEntry, KbRevision
from store.base import utcnow


class KnowledgeError(ValueError):
    """A proposal or decision the rules refuse; ``code`` is stable for clients."""

    code = "kb_refused"


class KbNotFound(KnowledgeError):
    code = "kb_not_found"


class KbConflict(KnowledgeError):
    code = "kb_conflict"


@dataclass(frozen=True)
class Draft:
    title: str
    body: str
    category: str
    valid_from: datetime
    valid_to: datetime | None = None
    department: str | None = None
    source: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    def check(self) -> None:
        if not self.title.strip() or not self.body.strip():
            raise KnowledgeError("标题和正文不能为空")
        if any(c in self.title for c in "\r\n"):
            raise KnowledgeError("标题不能换行")
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise KnowledgeError("失效时间须晚于生效时间")


async def propose(
    session: AsyncSession, draft: Draft, author: str, entry_id: int | None = None
) -> KbRevision:
    draft.check()
    base = 0
    if entry_id is not None:
        entry = await session.get(KbEntry, entry_id)
        if entry is None:
            raise KbNotFound(f"没有编号为 {entry_id} 的知识条目")
        base = entry.version
    rev = KbRevision(
        entry_id=entry_id,
        base_version=base,
        title=draft.title.strip(),
        body=draft.body.strip(),
        category=draft.category,
        department=draft.department,
        valid_from=draft.valid_from,
        valid_to=draft.valid_to,
        source=draft.source,
        tags=list(draft.tags),
        author=author,
    )
    session.add(rev)
    await session.commit()
    return rev


async def decide(
    session: AsyncSession, revision_id: int, reviewer: str, approve: bool, note: str = ""
) -> KbRevision:
    rev = await session.get(KbRevision, revision_id)
    if rev is None:
        raise KbNotFound(f"没有编号为 {revision_id} 的修订")
    if rev.state != "pending":
        raise KbConflict(f"该修订已{'通过' if rev.state == 'approved' else '驳回'}")
    if rev.author == reviewer:
        raise KnowledgeError("不能审核自己提交的修订")
    if not approve and not note.strip():
        raise KnowledgeError("驳回须填写理由")
    now = utcnow()
    rev.reviewer, rev.note, rev.decided_at = reviewer, note, now
    if not approve:
        rev.state = "rejected"
        await session.commit()
        return rev
    entry = await session.get(KbEntry, rev.entry_id) if rev.entry_id else None
    if entry is not None and entry.version != rev.base_version:
        raise KbConflict(
            f"条目已更新到第 {entry.version} 版，该修订基于第 {rev.base_version} 版，请重新编辑"
        )
    entry = await publish(session, rev, entry, now)
    rev.entry_id, rev.state = entry.id, "approved"
    await session.commit()
    return rev


async def publish(
    session: AsyncSession, rev: KbRevision, entry: KbEntry | None, now: datetime
) -> KbEntry:
    # a withdrawn entry left the counts at its withdrawal: it comes back as new
    old_tokens = None if entry is None or entry.withdrawn else entry.tokens
    if entry is None:
        entry = KbEntry(version=0)
        session.add(entry)
    entry.title, entry.body, entry.category = rev.title, rev.body, rev.category
    entry.department, entry.source, entry.tags = rev.department, rev.source, list(rev.tags)
    entry.valid_from, entry.valid_to = rev.valid_from, rev.valid_to
    entry.version = (entry.version or 0) + 1
    entry.withdrawn, entry.updated_at = False, now
    entry.tokens = index.document_tokens(entry.title, entry.tags, entry.body)
    await session.flush()
    await index.put(session, entry.id, entry.tokens, old_tokens)
    return entry


async def withdraw(session: AsyncSession, entry_id: int) -> None:
    entry = await session.get(KbEntry, entry_id)
    if entry is None:
        raise KbNotFound(f"没有编号为 {entry_id} 的知识条目")
    if entry.withdrawn:
        return
    entry.withdrawn, entry.updated_at = True, utcnow()
    await index.drop(session, entry_id, entry.tokens)
    await session.commit()


async def pending(session: AsyncSession, limit: int = 50, offset: int = 0) -> list[KbRevision]:
    rows = await session.scalars(
        select(KbRevision)
        .where(KbRevision.state == "pending")
        .order_by(KbRevision.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all())


async def history(session: AsyncSession, entry_id: int) -> list[KbRevision]:
    """Every revision of the entry, decided or not, newest first: its versions and proposals."""
    rows = await session.scalars(
        select(KbRevision).where(KbRevision.entry_id == entry_id).order_by(KbRevision.id.desc())
    )
    return list(rows.all())


async def listing(
    session: AsyncSession, limit: int, offset: int, category: str | None, title: str | None
) -> list[KbEntry]:
    """Entries not withdrawn, expired and not yet valid ones too (the editors see those),
    newest change first; ``title`` matches any part of it."""
    stmt = select(KbEntry).where(KbEntry.withdrawn.is_(False))
    if category:
        stmt = stmt.where(KbEntry.category == category)
    if title:
        stmt = stmt.where(KbEntry.title.contains(title, autoescape=True))
    stmt = stmt.order_by(KbEntry.updated_at.desc(), KbEntry.id.desc())
    return list((await session.scalars(stmt.limit(limit).offset(offset))).all())


async def published_entry(session: AsyncSession, entry_id: int) -> KbEntry | None:
    """The entry as published now; None if there is none or it was withdrawn."""
    entry = await session.get(KbEntry, entry_id)
    return entry if entry is not None and not entry.withdrawn else None
