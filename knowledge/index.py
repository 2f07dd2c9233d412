"""The full-text index on the entries' jieba words, one per backend: an FTS5 table on SQLite
(rowid = entry id, BM25 ranking) and, on PostgreSQL, a stored column ``tsv`` =
``to_tsvector('simple', tokens)`` with a GIN index (ts_rank_cd). Both are made by the
migration; neither is in the ORM metadata."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from pathlib import Path

import jieba
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

FTS_TABLE = "kb_fts"  # SQLite
PG_INDEX = "ix_kb_entries_tokens"  # PostgreSQL
# Words that say nothing about which policy is meant: question forms and fillers of a call.
STOPWORDS = frozenset(
    (Path(__file__).resolve().parent / "data" / "stopwords.txt").read_text(encoding="utf-8").split()
)
_WORD = re.compile(r"^[\w\u4e00-\u9fff]+$")
_MAX_QUERY_WORDS = 24
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


def is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


async def put(session: AsyncSession, entry_id: int, tokens: str) -> None:
    """Make the index hold the entry's current words (PostgreSQL indexes the column itself)."""
    if is_sqlite(session):
        await session.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": entry_id})
        await session.execute(
            text(f"INSERT INTO {FTS_TABLE}(rowid, tokens) VALUES (:id, :t)"),
            {"id": entry_id, "t": tokens},
        )


async def drop(session: AsyncSession, entry_id: int) -> None:
    if is_sqlite(session):
        await session.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": entry_id})
