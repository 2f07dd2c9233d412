"""From a call's finished transcripts to its ticket draft (CallDraft).

Run by the worker after each stored transcript: once every transcribed recording of the call
has a transcript (or has failed for good), the caller's and the seat's utterances, in time
order, go to the DraftBuilder. Two workers finishing the two sides at the same moment may both
build it; the upsert on the unique call_id keeps one draft. A draft the seat has edited
(source "seat") is never overwritten.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from asr.draft import DirectoryEntry, Draft, DraftBuilder, EarlierCall, Utterance
from asr.models import AsrJob, CallDraft, Transcript, TranscriptSegment
from recording.models import Recording
from recording.transcribed import transcribed
from store.base import utcnow
from store.sessions import Sessions
from tickets.service import department_directory
from tickets.workdays import WorkCalendar, due_at

log = logging.getLogger(__name__)
_EARLIER_MAX = 20
# (when this call came in, [(when, call id)] of the same number's earlier calls, oldest first)
CallerCalls = tuple[datetime, list[tuple[datetime, str]]]


class CallerHistory(Protocol):
    """The call records' side of a draft: the calls are the ACD's records, so asr asks the
    function the composition root passes (acd.records.caller_history), not their table."""

    async def __call__(
        self, session: AsyncSession, call_id: str, limit: int
    ) -> CallerCalls | None: ...


class CallDrafts:
    def __init__(
        self,
        sessions: Sessions,
        builder: DraftBuilder | None = None,
        calendar: WorkCalendar | None = None,
        *,
        history: CallerHistory,
    ) -> None:
        self.sessions = sessions
        self.caller_history = history
        self.builder = builder or DraftBuilder()
        self.calendar = calendar or WorkCalendar()
        self._lock = threading.Lock()

    async def utterances(self, session: AsyncSession, call_id: str) -> list[Utterance] | None:
        """Both sides in time order; None while a recording of the call is still pending."""
        recs = transcribed(
            list(
                (await session.scalars(select(Recording).where(Recording.call_id == call_id))).all()
            )
        )
        if not recs:
            return None
        ids = [r.id for r in recs]
        done = set(
            (
                await session.scalars(
                    select(Transcript.recording_id).where(Transcript.recording_id.in_(ids))
                )
            ).all()
        )
        failed = set(
            (
                await session.scalars(
                    select(AsrJob.recording_id).where(
                        AsrJob.recording_id.in_(ids), AsrJob.status == "failed"
                    )
                )
            ).all()
        )
        if any(i not in done and i not in failed for i in ids):
            return None
        segments = (
            await session.scalars(
                select(TranscriptSegment)
                .join(Transcript, TranscriptSegment.transcript_id == Transcript.id)
                .where(Transcript.call_id == call_id, Transcript.recording_id.in_(ids))
                .order_by(TranscriptSegment.start_s, TranscriptSegment.id)
            )
        ).all()
        # A mono mixed file cannot tell the sides apart: it is read as the caller's words.
        return [
            Utterance("seat" if s.speaker == "seat" else "caller", s.text)
            for s in segments
            if s.text.strip()
        ]

    async def history(
        self, session: AsyncSession, call_id: str
    ) -> tuple[list[str], list[EarlierCall], datetime | None]:
        """Earlier calls of the same number: their drafts' emotions and categories."""
        calls = await self.caller_history(session, call_id, _EARLIER_MAX)
        if calls is None:
            return [], [], None
        entered, earlier_calls = calls
        ids = [c for _, c in earlier_calls]
        found = await session.execute(
            select(CallDraft.call_id, CallDraft.draft).where(CallDraft.call_id.in_(ids))
        )
        drafts: dict[str, dict[str, Any]] = {c: d for c, d in found.all()}
        rows = [(at, drafts.get(c)) for at, c in earlier_calls]
        emotions = [str(d["emotion"]) for _, d in rows if d and d.get("emotion")]
        earlier = [EarlierCall(at, d.get("category") if d else None) for at, d in rows]
        return emotions, earlier, entered

    def _build(
        self,
        utterances: list[Utterance],
        directory: list[DirectoryEntry],
        emotions: list[str],
        earlier: list[EarlierCall],
        now: datetime,
    ) -> Draft:
        with self._lock:  # one jieba tokenizer, shared by the worker's threads
            return self.builder.build(
                utterances,
                directory,
                emotions,
                earlier,
                now,
                lambda at, days: due_at(at, days, self.calendar),
            )

    async def after_transcript(self, call_id: str, city: str = "") -> Draft | None:
        async with self.sessions() as session:
            utterances = await self.utterances(session, call_id)
            if utterances is None:
                return None
            if not any(u.speaker == "caller" for u in utterances):
                log.info("draft %s %s: no caller speech transcribed, no draft", city, call_id)
                return None
            emotions, earlier, entered = await self.history(session, call_id)
            directory = [
                DirectoryEntry(d.name, d.number, d.duty_hours, d.categories)
                for d in await department_directory(session)
            ]
        now = entered or datetime.now(UTC)
        draft = await asyncio.to_thread(self._build, utterances, directory, emotions, earlier, now)
        await self.upsert(call_id, json.loads(draft.to_json()))
        log.info("draft %s %s: %s", city, call_id, draft.category)
        return draft

    async def ensure(self, call_id: str, city: str = "") -> Draft | None:
        """Build the call's draft if it has none: a job redelivered after its worker died
        finds the transcript stored but not the draft that worker was about to build."""
        async with self.sessions() as session:
            found = await session.scalar(select(CallDraft.id).where(CallDraft.call_id == call_id))
        if found is not None:
            return None
        return await self.after_transcript(call_id, city)

    async def upsert(self, call_id: str, data: dict[str, Any]) -> None:
        for _ in range(2):
            try:
                async with self.sessions.begin() as session:
                    row = await session.scalar(
                        select(CallDraft).where(CallDraft.call_id == call_id)
                    )
                    if row is None:
                        session.add(CallDraft(call_id=call_id, draft=data, source="asr"))
                    elif row.source == "asr":
                        row.draft, row.updated_at = data, utcnow()
                return
            except IntegrityError:
                continue  # the other side's worker inserted it a moment ago: update it
