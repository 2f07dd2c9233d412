"""Search of the published, valid entries for a seat on a call: the query is whatever the seat
has (a question, the live draft's summary, a transcript), cut into words by jieba, matched with
OR and ranked by the backend's full-text ranking (BM25 on SQLite FTS5, ts_rank_cd on
PostgreSQL). Expired, not yet valid and withdrawn entries are never returned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    bindparam,
    case,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.index import FTS_TABLE, informative, is_sqlite, query_words
from knowledge.models import KbEntry

MAX_HITS = 20
_SNIPPET = 120
_fts = table(FTS_TABLE, column("rowid"), column("tokens"))


@dataclass(frozen=True)
class Hint:
    category: str
    words: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    id: int
    title: str
    snippet: str
    category: str
    department: str | None
    version: int
    score: float


def _valid(now: datetime) -> list[ColumnElement[bool]]:
    return [
        KbEntry.withdrawn.is_(False),
        KbEntry.valid_from <= now,
        or_(KbEntry.valid_to.is_(None), KbEntry.valid_to > now),
    ]


def _boost(hint: Hint | None) -> list[ColumnElement[int]]:
    if hint is None:
        return []
    return [case((KbEntry.category == hint.category, 0), else_=1)]


async def search(
    session: AsyncSession,
    query: str,
    now: datetime,
    *,
    limit: int = 5,
    category: str | None = None,
    hint: Hint | None = None,
) -> list[Hit]:
    """``category`` restricts the search; ``hint`` (what the caller's draft builder made of the
    same words: a category and its keywords) adds the keywords to the query and ranks entries
    of that category first, so that 煤气味 finds the entry that says 燃气."""
    terms = query_words(query)
    if hint is not None:
        terms = list(dict.fromkeys([*terms, *(w.lower() for w in hint.words)]))
    terms = await informative(session, terms)
    if not terms:
        return []
    limit = max(1, min(limit, MAX_HITS))
    if is_sqlite(session):
        # bm25() is smaller for better matches; each word quoted so no FTS5 syntax gets in
        match = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
        rank: ColumnElement[float] = literal_column(f"bm25({FTS_TABLE})")
        stmt = (
            select(KbEntry, rank)
            .join(_fts, _fts.c.rowid == KbEntry.id)
            .where(text(f"{FTS_TABLE} MATCH :match").bindparams(match=match), *_valid(now))
        )
        stmt = stmt.order_by(*_boost(hint), rank)
        sign = -1.0
    else:
        # The stored vector column and its GIN index of the migration (PostgreSQL only).
        vector: ColumnElement[str] = literal_column("kb_entries.tsv")
        simple: ColumnElement[str] = literal_column("'simple'::regconfig")
        tsq = func.to_tsquery(simple, bindparam("tsq", " | ".join(terms)))
        rank = func.ts_rank_cd(vector, tsq)
        stmt = (
            select(KbEntry, rank)
            .where(vector.op("@@")(tsq), *_valid(now))
            .order_by(*_boost(hint), rank.desc())
        )
        sign = 1.0
    if category:
        stmt = stmt.where(KbEntry.category == category)
    rows = (await session.execute(stmt.limit(limit))).all()
    return [
        Hit(e.id, e.title, e.body[:_SNIPPET], e.category, e.department, e.version, sign * float(r))
        for e, r in rows
    ]
