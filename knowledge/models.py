"""Tables of the knowledge area: the published entries and the revisions that change them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow


class KbEntry(Base):
    """A published entry (the newest approved revision); search reads these only."""

    __tablename__ = "kb_entries"
    __table_args__ = (Index("ix_kb_entries_category", "category"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(100))
    valid_from: Mapped[datetime] = mapped_column()
    valid_to: Mapped[datetime | None] = mapped_column()
    source: Mapped[str] = mapped_column(String(300), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    withdrawn: Mapped[bool] = mapped_column(default=False)
    # jieba's words of title, tags and body joined by spaces: what the full-text index reads
    tokens: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class KbRevision(Base):
    """A proposed new entry or change, by a `knowledge` editor, until a reviewer decides."""

    __tablename__ = "kb_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("kb_entries.id"), index=True)
    base_version: Mapped[int] = mapped_column(Integer, default=0)  # 0: a new entry
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(100))
    valid_from: Mapped[datetime] = mapped_column()
    valid_to: Mapped[datetime | None] = mapped_column()
    source: Mapped[str] = mapped_column(String(300), default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # approved / rejected
    author: Mapped[str] = mapped_column(String(64))
    reviewer: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()


class KbTerm(Base):
    """How many published entries hold each word (``""``: how many entries there are): the
    search leaves out words too common to tell entries apart, which also keeps the number of
    matches to rank small."""

    __tablename__ = "kb_terms"

    word: Mapped[str] = mapped_column(String(64), primary_key=True)
    docs: Mapped[int] = mapped_column(Integer, default=0)
