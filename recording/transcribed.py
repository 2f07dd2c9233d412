"""Which recordings of a call get transcribed: the one rule, in Python and in SQL.

MixMonitor writes one file per speaker and, unless turned off, the mixed one beside them. The
per-speaker files are transcribed (each side's words are known to be that side's); the mixed
file only when a call has no per-speaker file (a mono recording cannot tell the sides apart).
The indexer queues jobs by it, the ASR sweep finds forgotten jobs by it, and the draft builder
waits for exactly these transcripts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import ColumnElement, exists, or_
from sqlalchemy.orm import aliased

from recording.models import Recording

MIXED = "mixed"


class _Row(Protocol):
    @property
    def speaker(self) -> str: ...
    @property
    def deleted_at(self) -> datetime | None: ...


R = TypeVar("R", bound=_Row)


def transcribed_speakers(speakers: Iterable[str]) -> set[str]:
    present = set(speakers)
    return (present - {MIXED}) or (present & {MIXED})


def transcribed(recordings: Sequence[R]) -> list[R]:
    """The call's recordings that are (to be) transcribed; pruned files are not."""
    live = [r for r in recordings if r.deleted_at is None]
    wanted = transcribed_speakers(r.speaker for r in live)
    return [r for r in live if r.speaker in wanted]


def transcribed_clause() -> ColumnElement[bool]:
    """The same rule over Recording rows: not a mixed file whose attempt has per-speaker files."""
    side = aliased(Recording)
    has_sides = (
        exists()
        .where(side.call_id == Recording.call_id)
        .where(side.attempt == Recording.attempt)
        .where(side.speaker != MIXED)
    )
    return or_(Recording.speaker != MIXED, ~has_sides)
