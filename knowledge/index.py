"""The full-text index on the entries' jieba words, one per backend: an FTS5 table on SQLite
(rowid = entry id, BM25 ranking) and, on PostgreSQL, a stored column ``tsv`` =
``to_tsvector('simple', tokens)`` with a GIN index (ts_rank). Both are made by the
migration; neither is in the ORM metadata."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from pathlib import Path

import jieba
from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.models import KbTerm

FTS_TABLE = "kb_fts"  # SQLite
PG_INDEX = "ix_kb_entries_tokens"  # PostgreSQL
# Words that say nothing about which policy is meant: question forms and fillers of a call.
STOPWORDS = frozenset(
    (Path(__file__).resolve().parent / "data" / "stopwords.txt").read_text(encoding="utf-8").split()
)
_WORD = re.compile(r"^[\w\u4e00-\u9fff]+$")
_MAX_QUERY_WORDS = 24
COMMON_SHARE = 0.03  # a word in more of the entries than this tells little about which one
_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None


def _tok() -> jieba.Tokenizer:
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            import logging

            jieba.setLogLevel(logging.INFO)
            _tokenizer = jieba.Tokenizer()
            _tokenizer.initialize()
        return _tokenizer


def words(textual: str) -> list[str]:
    """jieba's search-mode words, lower-cased, without stopwords and punctuation."""
    tok = _tok()
    with _lock:  # one jieba tokenizer; its cache is not thread-safe
        raw = list(tok.cut_for_search(textual))
    out = []
    for w in raw:
        w = w.strip().lower()
        if w and w not in STOPWORDS and _WORD.match(w) and not (len(w) == 1 and w.isascii()):
            out.append(w)
    return out


def document_tokens(title: str, tags: Iterable[str], body: str) -> str:
    # The title and tags twice: a word there says more about the entry than one in the body.
    head = " ".join(words(title + " " + " ".join(tags)))
    return f"{head} {head} {' '.join(words(body))}".strip()


def query_words(textual: str) -> list[str]:
    seen: dict[str, None] = {}
    for w in words(textual):
        seen.setdefault(w, None)
    return list(seen)[:_MAX_QUERY_WORDS]


_COUNTS = select(KbTerm.word, KbTerm.docs).where(
    KbTerm.word.in_(bindparam("words", expanding=True))
)


async def informative(
    session: AsyncSession, terms: list[str], keep: int = 10
) -> list[tuple[str, int]]:
    """The words worth matching with how many entries hold each: known to the base, not in
    more than a few percent of its entries, rarest first, at most ``keep``. A query of common
    words only keeps its 3 rarest."""
    if not terms:
        return []
    rows = await session.execute(_COUNTS, {"words": [*terms, ""]})
    docs: dict[str, int] = {w: n for w, n in rows.all()}
    total = docs.pop("", 0)
    known = sorted((n, w) for w, n in docs.items() if n > 0)
    limit = max(50, int(total * COMMON_SHARE))
    rare = [(w, n) for n, w in known if n <= limit]
    return rare[:keep] if rare else [(w, n) for n, w in known[:3]]


def is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


async def _count(session: AsyncSession, words: Iterable[str], step: int) -> None:
    rows = [{"word": w[:64], "docs": step} for w in words]
    if not rows:
        return
    insert = sqlite_insert if is_sqlite(session) else pg_insert
    stmt = insert(KbTerm).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[KbTerm.word], set_={"docs": KbTerm.docs + stmt.excluded.docs}
    )
    await session.execute(stmt)


async def put(session: AsyncSession, entry_id: int, tokens: str, old_tokens: str | None) -> None:
    """Make the index hold the entry's current words (PostgreSQL indexes the column itself),
    and the word counts follow: ``old_tokens`` are the words it held before, None if new."""
    old, new = set(old_tokens.split()) if old_tokens is not None else set(), set(tokens.split())
    await _count(session, old - new, -1)
    await _count(session, new - old, 1)
    if old_tokens is None:
        await _count(session, [""], 1)
    if is_sqlite(session):
        await session.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": entry_id})
        await session.execute(
            text(f"INSERT INTO {FTS_TABLE}(rowid, tokens) VALUES (:id, :t)"),
            {"id": entry_id, "t": tokens},
        )


async def drop(session: AsyncSession, entry_id: int, tokens: str) -> None:
    await _count(session, [*set(tokens.split()), ""], -1)
    if is_sqlite(session):
        await session.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": entry_id})
