"""Writing call records as a call goes: small functions the controller calls on events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from acd.calls.tables import CallOffer, CallRecord
from acd.queue.types import CallNotFound

Sessions = async_sessionmaker[AsyncSession]
_CHUNK = 1000  # call ids per IN (...) query


async def _get(session: AsyncSession, call_id: str) -> CallRecord:
    record = await session.scalar(select(CallRecord).where(CallRecord.call_id == call_id))
    if record is None:
        raise CallNotFound(f"no call record for {call_id}")
    return record


async def call_entered(
    sessions: Sessions, call_id: str, city: str, caller_num: str, at: datetime
) -> None:
    async with sessions.begin() as session:
        exists = await session.scalar(select(CallRecord.id).where(CallRecord.call_id == call_id))
        if exists is None:  # a resync may report a call that is already recorded
            session.add(
                CallRecord(call_id=call_id, city=city, caller_num=caller_num, entered_at=at)
            )


async def call_queued(
    sessions: Sessions, call_id: str, skill: str, path: str, at: datetime
) -> None:
    async with sessions.begin() as session:
        record = await _get(session, call_id)
        record.skill, record.ivr_path = skill, path
        record.ivr_choice_at = record.ivr_choice_at or at
        record.queued_at = record.queued_at or at


async def seat_offered(
    sessions: Sessions, call_id: str, seat_id: str, seat_city: str, overflowed: bool, at: datetime
) -> None:
    async with sessions.begin() as session:
        record = await _get(session, call_id)
        # Written once: a write replayed after a database outage (store.outbox) may have
        # committed before the connection dropped.
        same = await session.scalar(
            select(CallOffer.id).where(
                CallOffer.call_record_id == record.id,
                CallOffer.seat_id == seat_id,
                CallOffer.offered_at == at,
            )
        )
        if same is not None:
            return
        record.overflowed = record.overflowed or overflowed
        session.add(
            CallOffer(call_record_id=record.id, seat_id=seat_id, seat_city=seat_city, offered_at=at)
        )


async def offer_result(sessions: Sessions, call_id: str, result: str, at: datetime) -> None:
    """Close the latest open offer made by ``at``; on an answer the call gets its seat and
    answer time. (An offer made later is not this result's: a result replayed after a
    database outage must not close it.)"""
    async with sessions.begin() as session:
        record = await _get(session, call_id)
        offer = await session.scalar(
            select(CallOffer)
            .where(CallOffer.call_record_id == record.id, CallOffer.result.is_(None))
            .where(CallOffer.offered_at <= at)
            .order_by(CallOffer.offered_at.desc(), CallOffer.id.desc())
        )
        if offer is None:
            return
        offer.result, offer.result_at = result, at
        if result == "answered":
            record.answered_at, record.seat_id, record.answer_city = (
                at,
                offer.seat_id,
                offer.seat_city,
            )


async def call_ended(
    sessions: Sessions, call_id: str, outcome: str, cause: int | None, at: datetime
) -> None:
    async with sessions.begin() as session:
        record = await _get(session, call_id)
        record.outcome, record.end_cause, record.ended_at = outcome, cause, at


async def recorded(sessions: Sessions, call_ids: Iterable[str]) -> dict[str, bool]:
    """Which of these calls have a record: call id -> whether the record has an end."""
    ids = list(dict.fromkeys(call_ids))
    found: dict[str, bool] = {}
    async with sessions() as session:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = await session.execute(
                select(CallRecord.call_id, CallRecord.ended_at).where(CallRecord.call_id.in_(chunk))
            )
            found.update((call_id, ended is not None) for call_id, ended in rows.all())
    return found


@dataclass(frozen=True)
class PastCall:
    """A call that ended while no controller saw it, as the dialplan's journal told it."""

    call_id: str
    city: str
    caller_num: str
    skill: str | None
    path: str
    entered_at: datetime
    queued_at: datetime | None
    ended_at: datetime
    outcome: str
    answered_at: datetime | None = None
    seat_id: str | None = None  # the seat that answered, and its city
    seat_city: str | None = None


async def past_call(sessions: Sessions, call: PastCall) -> bool:
    """Write the whole record of a call no controller saw, in one transaction; False when the
    call has a record already (the live path, or an earlier replay, wrote it)."""
    async with sessions.begin() as session:
        exists = await session.scalar(
            select(CallRecord.id).where(CallRecord.call_id == call.call_id)
        )
        if exists is not None:
            return False
        record = CallRecord(
            call_id=call.call_id,
            city=call.city,
            caller_num=call.caller_num,
            skill=call.skill,
            ivr_path=call.path,
            entered_at=call.entered_at,
            ivr_choice_at=call.queued_at,
            queued_at=call.queued_at,
            answered_at=call.answered_at,
            ended_at=call.ended_at,
            outcome=call.outcome,
        )
        session.add(record)
        if call.answered_at is not None and call.seat_id and call.seat_city:
            # the journal knows the answer, not when the seat began to ring: one offer, answered
            record.seat_id, record.answer_city = call.seat_id, call.seat_city
            session.add(
                CallOffer(
                    call=record,
                    seat_id=call.seat_id,
                    seat_city=call.seat_city,
                    offered_at=call.answered_at,
                    result="answered",
                    result_at=call.answered_at,
                )
            )
        return True


async def close_past(sessions: Sessions, call: PastCall) -> bool:
    """End a record a controller began but never ended (it died first), with what the journal
    says of the end; what the record already knows is kept. False when it has an end."""
    async with sessions.begin() as session:
        record = await _get(session, call.call_id)
        if record.ended_at is not None:
            return False
        record.skill = record.skill or call.skill
        record.ivr_path = record.ivr_path or call.path
        record.queued_at = record.queued_at or call.queued_at
        record.ivr_choice_at = record.ivr_choice_at or call.queued_at
        if call.answered_at is not None and record.answered_at is None:
            record.answered_at, record.seat_id = call.answered_at, call.seat_id
            record.answer_city = call.seat_city
        answered = record.answered_at is not None
        record.outcome = "completed" if answered else call.outcome
        record.ended_at = call.ended_at
        return True


async def open_between(
    sessions: Sessions, city: str, since: datetime, until: datetime
) -> list[CallRecord]:
    """The city's records of calls that entered in [since, until) and have no end."""
    async with sessions() as session:
        found = await session.scalars(
            select(CallRecord)
            .where(CallRecord.city == city)
            .where(CallRecord.entered_at >= since, CallRecord.entered_at < until)
            .where(CallRecord.ended_at.is_(None))
            .order_by(CallRecord.entered_at)
        )
        return list(found.all())


def presumed_outcome(record: CallRecord) -> str:
    """What an unobserved end most likely was, from how far the call had got."""
    if record.answered_at is not None:
        return "completed"
    return "ivr_hangup" if record.queued_at is None else "abandoned"


async def get_record(sessions: Sessions, call_id: str) -> CallRecord:
    async with sessions() as session:
        record = await session.scalar(
            select(CallRecord)
            .where(CallRecord.call_id == call_id)
            .options(selectinload(CallRecord.offers))
        )
        if record is None:
            raise CallNotFound(f"no call record for {call_id}")
        return record


async def callback_call(
    sessions: Sessions,
    key: str,
    *,
    city: str,
    number: str,
    seat_id: str,
    started_at: datetime,
    answered_at: datetime | None,
    ended_at: datetime,
) -> None:
    """The record of a connected callback leg (call id = the attempt's key, skill and outcome
    ``callback``), so QA finds it, its seat sees it and the number's history includes it."""
    async with sessions.begin() as session:
        exists = await session.scalar(select(CallRecord.id).where(CallRecord.call_id == key))
        if exists is not None:  # a second controller (or a restart) closed it already
            return
        session.add(
            CallRecord(
                call_id=key,
                city=city,
                caller_num=number,
                skill="callback",
                ivr_path="callback",
                entered_at=started_at,
                answered_at=answered_at,
                ended_at=ended_at,
                seat_id=seat_id,
                answer_city=city,
                outcome="callback",
            )
        )


async def caller_history(
    session: AsyncSession, call_id: str, limit: int
) -> tuple[datetime, list[tuple[datetime, str]]] | None:
    """When this call came in, and the same number's earlier calls (when, call id), oldest
    first, at most ``limit``; None for an unknown call. A withheld number has no history."""
    this = await session.scalar(select(CallRecord).where(CallRecord.call_id == call_id))
    if this is None:
        return None
    if not this.caller_num:
        return this.entered_at, []
    rows = (
        await session.execute(
            select(CallRecord.entered_at, CallRecord.call_id)
            .where(
                CallRecord.caller_num == this.caller_num,
                CallRecord.call_id != call_id,
                CallRecord.entered_at < this.entered_at,
            )
            .order_by(CallRecord.entered_at.desc())
            .limit(limit)
        )
    ).all()
    return this.entered_at, [(at, cid) for at, cid in reversed(rows)]
