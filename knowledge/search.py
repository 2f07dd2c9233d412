"""Search of the published, valid entries for a seat on a call: the query is whatever the seat
has (a question, the live draft's summary, a transcript), cut into words by jieba, matched with
OR and ranked by the backend's full-text ranking (BM25 on SQLite FTS5, ts_rank on PostgreSQL).
Expired, not yet valid and withdrawn entries are never returned.

Both backends rank every row they are given, so the rows to rank are bounded first: the
candidates are the entries holding the query's rarest words, as many words as keep their entries
(counted in kb_terms) within ``CANDIDATES``; the ranking then weighs all the query's words.
Ranking every entry that holds any word cost 170-580 ms at 100,000 entries on PostgreSQL
(thousands of rows through ts_rank_cd, about 40 µs each); a bounded set through ts_rank costs
a few ms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
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
from sqlalchemy.sql.elements import SQLCoreOperations

from knowledge.index import FTS_TABLE, informative, is_sqlite, query_words
from knowledge.models import KbEntry

MAX_HITS = 20
CANDIDATES = 500  # entries ranked at most per search on PostgreSQL
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


# The statements are built once per shape (with or without a hint, a category) and bound per
# search: building a subquery's columns anew each time cost SQLAlchemy several ms per search.
_NOW = bindparam("now", type_=KbEntry.valid_from.type)


def _valid() -> list[ColumnElement[bool]]:
    return [
        KbEntry.withdrawn.is_(False),
        KbEntry.valid_from <= _NOW,
        or_(KbEntry.valid_to.is_(None), KbEntry.valid_to > _NOW),
    ]


def _boost(boost: bool, category: SQLCoreOperations[str]) -> list[ColumnElement[int]]:
    if not boost:
        return []
    return [case((category == bindparam("hint_category", type_=String), 0), else_=1)]


def _shown() -> list[SQLCoreOperations[Any]]:
    """What a hit shows: the columns only, not the entity (its tokens and body are long)."""
    return [
        KbEntry.id,
        KbEntry.title,
        func.substr(KbEntry.body, 1, _SNIPPET).label("snippet"),
        KbEntry.category,
        KbEntry.department,
        KbEntry.version,
    ]


def _in_category(restrict: bool) -> list[ColumnElement[bool]]:
    return [KbEntry.category == bindparam("category", type_=String)] if restrict else []


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
    found = await informative(session, terms)
    if not found:
        return []
    params: dict[str, object] = {"now": now}
    if hint is not None:
        params["hint_category"] = hint.category
    if category:
        params["category"] = category
    if is_sqlite(session):
        params["match"] = _fts_match(found)
        stmt, sign = _sqlite(hint is not None, bool(category)), -1.0  # bm25: smaller is better
    else:
        params["every"] = " | ".join(w for w, _ in found)
        params["some"] = " | ".join(matching(found, CANDIDATES))
        params["cap"] = CANDIDATES  # the rarest word alone may hold more
        stmt, sign = _postgres(hint is not None, bool(category)), 1.0
    stmt = stmt.limit(max(1, min(limit, MAX_HITS)))
    rows = (await session.execute(stmt, params)).all()
    return [
        Hit(i, title, snippet, cat, dept, version, sign * float(r))
        for i, title, snippet, cat, dept, version, r in rows
    ]


@cache
def _sqlite(boost: bool, restrict: bool) -> Select[Any]:
    rank: ColumnElement[float] = literal_column(f"bm25({FTS_TABLE})")
    return (
        select(*_shown(), rank)
        .join(_fts, _fts.c.rowid == KbEntry.id)
        .where(text(f"{FTS_TABLE} MATCH :match"), *_valid(), *_in_category(restrict))
        .order_by(*_boost(boost, KbEntry.category), rank)
    )


def _fts_match(found: list[tuple[str, int]]) -> str:
    """FTS5 skips through the common words' lists to the rare words' entries: the candidates
    are bounded as on PostgreSQL, and bm25 still weighs every word."""

    def either(words: list[str]) -> str:
        # each word quoted so no FTS5 syntax gets in
        return " OR ".join('"' + w.replace('"', "") + '"' for w in words)

    every, some = [w for w, _ in found], matching(found, CANDIDATES)
    return either(every) if some == every else f"({either(some)}) AND ({either(every)})"


def matching(found: list[tuple[str, int]], budget: int) -> list[str]:
    """The rarest words whose entries together stay within ``budget`` (at least one word):
    the candidates to rank. The commoner words still count in the ranking."""
    out: list[str] = []
    total = 0
    for word, docs in found:
        if out and total + docs > budget:
            break
        out.append(word)
        total += docs
    return out


@cache
def _postgres(boost: bool, restrict: bool) -> Select[Any]:
    simple: ColumnElement[str] = literal_column("'simple'::regconfig")
    every = func.to_tsquery(simple, bindparam("every", type_=String))
    some = func.to_tsquery(simple, bindparam("some", type_=String))
    # The stored vector column and its GIN index of the migration (PostgreSQL only).
    vector: ColumnElement[str] = literal_column("kb_entries.tsv")
    cand = select(*_shown(), vector.label("tsv")).where(
        vector.op("@@")(some), *_valid(), *_in_category(restrict)
    )
    sub = cand.limit(bindparam("cap", type_=Integer)).subquery("cand")
    rank: ColumnElement[float] = func.ts_rank(sub.c.tsv, every)
    shown = [c for c in sub.c if c.name != "tsv"]
    return select(*shown, rank).order_by(*_boost(boost, sub.c.category), rank.desc())
