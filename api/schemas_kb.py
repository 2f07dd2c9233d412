"""Bodies of the 政策知识库 routes (api/routes/knowledge.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from api.schemas import Strict

Tag = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class RevisionIn(Strict):
    """A new entry (no entry_id) or a change of one; published once another editor approves."""

    entry_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    body: Annotated[str, StringConstraints(min_length=1, max_length=20000)]
    category: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    department: Annotated[str, StringConstraints(max_length=100)] | None = None
    valid_from: datetime
    valid_to: datetime | None = None
    source: Annotated[str, StringConstraints(max_length=300)] = ""
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class DecisionIn(Strict):
    approve: bool
    note: Annotated[str, StringConstraints(max_length=500)] = ""


class RevisionOut(BaseModel):
    id: int
    entry_id: int | None
    base_version: int
    title: str
    body: str
    category: str
    department: str | None
    valid_from: datetime
    valid_to: datetime | None
    source: str
    tags: list[str]
    state: str
    author: str
    reviewer: str | None
    note: str
    created_at: datetime
    decided_at: datetime | None = None


class EntryOut(BaseModel):
    id: int
    title: str
    body: str
    category: str
    department: str | None
    valid_from: datetime
    valid_to: datetime | None
    source: str
    tags: list[str]
    version: int
    withdrawn: bool


class HitOut(BaseModel):
    id: int
    title: str
    snippet: str
    category: str
    department: str | None
    version: int
    score: float


class SuggestionsOut(BaseModel):
    hint: str | None  # the category the draft builder read in the words, if any
    hits: list[HitOut]


class KbImportOut(BaseModel):
    proposed: int  # pending revisions, waiting for approval
    bad: list[dict[str, int | str]]
