"""Read side of calls: a seat's current and earlier calls, history by number, QA search,
recordings, transcripts and drafts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import selectinload

from acd.calls import records
from acd.calls.tables import CallRecord, CallTransfer
from asr.models import CallDraft, Transcript
from recording.models import Recording
from store.errors import NotFound
from store.sessions import Sessions
from tickets.models import Ticket

MAX_PAGE = 200


@dataclass(frozen=True)
class CallFilter:
    date_from: datetime | None = None
    date_to: datetime | None = None
    city: str | None = None
    seat_id: str | None = None
    skill: str | None = None
    outcome: str | None = None
    overflowed: bool | None = None
    text: str | None = None  # words in the transcript
    caller_num: str | None = None
    limit: int = 50
    offset: int = 0


def _filtered(f: CallFilter) -> Select[CallRecord]:
    query = select(CallRecord)
    if f.date_from is not None:
        query = query.where(CallRecord.entered_at >= f.date_from)
    if f.date_to is not None:
        query = query.where(CallRecord.entered_at < f.date_to)
    for column, value in (
        (CallRecord.city, f.city),
        (CallRecord.seat_id, f.seat_id),
        (CallRecord.skill, f.skill),
        (CallRecord.outcome, f.outcome),
        (CallRecord.caller_num, f.caller_num),
    ):
        if value:
            query = query.where(column == value)
    if f.overflowed is not None:
        query = query.where(CallRecord.overflowed.is_(f.overflowed))
    if f.text:
        # LIKE with escaped wildcards: staff search words, not patterns.
        pattern = "%" + f.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            exists().where(
                Transcript.call_id == CallRecord.call_id,
                Transcript.text.like(pattern, escape="\\"),
            )
        )
    return query


async def search(sessions: Sessions, f: CallFilter) -> list[CallRecord]:
    query = (
        _filtered(f)
        .order_by(CallRecord.entered_at.desc(), CallRecord.id.desc())
        .limit(min(f.limit, MAX_PAGE))
        .offset(f.offset)
    )
    async with sessions() as session:
        return list((await session.scalars(query)).all())


async def record(sessions: Sessions, call_id: str) -> CallRecord:
    """The call with its offers; CallNotFound (a NotFound: 404) when there is none."""
    return await records.get_record(sessions, call_id)


async def record_or_none(sessions: Sessions, call_id: str) -> CallRecord | None:
    async with sessions() as session:
        return await session.scalar(select(CallRecord).where(CallRecord.call_id == call_id))


async def last_call_of_seat(sessions: Sessions, seat_id: str) -> CallRecord | None:
    async with sessions() as session:
        return await session.scalar(
            select(CallRecord)
            .where(CallRecord.seat_id == seat_id)
            .order_by(CallRecord.answered_at.desc(), CallRecord.id.desc())
            .limit(1)
        )


async def earlier_calls(
    sessions: Sessions, number: str, before_call: str | None, limit: int = 20
) -> list[CallRecord]:
    if not number:
        return []
    query = select(CallRecord).where(CallRecord.caller_num == number)
    if before_call:
        query = query.where(CallRecord.call_id != before_call)
    query = query.order_by(CallRecord.entered_at.desc()).limit(limit)
    async with sessions() as session:
        return list((await session.scalars(query)).all())


async def tickets_of_number(sessions: Sessions, number: str, limit: int = 20) -> list[Ticket]:
    if not number:
        return []
    async with sessions() as session:
        rows = await session.scalars(
            select(Ticket)
            .where(Ticket.caller_number == number)
            .order_by(Ticket.accepted_at.desc())
            .limit(limit)
        )
        return list(rows.all())


async def ticket_of_call(sessions: Sessions, call_id: str) -> Ticket | None:
    async with sessions() as session:
        return await session.scalar(select(Ticket).where(Ticket.call_id == call_id).limit(1))


async def transfers(sessions: Sessions, call_id: str) -> list[CallTransfer]:
    """Three-way calls and transfers of the call (written by its city's controller)."""
    async with sessions() as session:
        return list(
            await session.scalars(
                select(CallTransfer)
                .where(CallTransfer.call_id == call_id)
                .order_by(CallTransfer.id)
            )
        )


async def draft(sessions: Sessions, call_id: str) -> CallDraft | None:
    async with sessions() as session:
        return await session.scalar(select(CallDraft).where(CallDraft.call_id == call_id))


async def moods(sessions: Sessions, call_ids: Sequence[str]) -> dict[str, str]:
    """Call id -> the caller's mood (情绪) its draft recorded, for the calls that have one."""
    if not call_ids:
        return {}
    async with sessions() as session:
        rows = await session.scalars(select(CallDraft).where(CallDraft.call_id.in_(call_ids)))
        return {r.call_id: str(r.draft["emotion"]) for r in rows if r.draft.get("emotion")}


async def recordings_of_call(sessions: Sessions, call_id: str) -> list[Recording]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Recording)
            .where(Recording.call_id == call_id)
            .order_by(Recording.attempt, Recording.id)
        )
        return list(rows.all())


async def recording(sessions: Sessions, recording_id: int) -> Recording:
    async with sessions() as session:
        row = await session.get(Recording, recording_id)
        if row is None:
            raise NotFound(f"no recording {recording_id}")
        return row


async def transcripts_of_call(sessions: Sessions, call_id: str) -> list[Transcript]:
    async with sessions() as session:
        rows = await session.scalars(
            select(Transcript)
            .where(Transcript.call_id == call_id)
            .options(selectinload(Transcript.segments))
            .order_by(Transcript.id)
        )
        return list(rows.all())


async def transcript_of_recording(sessions: Sessions, recording_id: int) -> Transcript:
    async with sessions() as session:
        row = await session.scalar(
            select(Transcript)
            .where(Transcript.recording_id == recording_id)
            .options(selectinload(Transcript.segments))
        )
        if row is None:
            raise NotFound(f"recording {recording_id} has no transcript yet")
        return row


async def pending_of_seat(
    sessions: Sessions, seat_id: str, since: datetime, limit: int = 50
) -> list[tuple[CallRecord, CallDraft | None]]:
    """Calls the seat answered since ``since`` that have no ticket yet, newest first, each
    with its draft (None until the ASR worker has built it): the seat's 待确认工单."""
    has_ticket = exists().where(Ticket.call_id == CallRecord.call_id)
    query = (
        select(CallRecord, CallDraft)
        .outerjoin(CallDraft, CallDraft.call_id == CallRecord.call_id)
        .where(
            CallRecord.seat_id == seat_id,
            CallRecord.answered_at.is_not(None),
            CallRecord.answered_at >= since,
            CallRecord.ended_at.is_not(None),
            ~has_ticket,
        )
        .order_by(CallRecord.answered_at.desc(), CallRecord.id.desc())
        .limit(min(limit, MAX_PAGE))
    )
    async with sessions() as session:
        return [(call, draft) for call, draft in (await session.execute(query)).all()]
