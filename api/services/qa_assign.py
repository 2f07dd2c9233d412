"""Sampling answered calls per seat and assigning them to QA reviewers; a reviewer's list."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from acd.calls.tables import CallRecord
from api.errors import Invalid
from api.models import QaAssignment, User
from store.base import utcnow
from store.errors import Conflict, NotFound
from store.sessions import Sessions

REVIEWER_ROLES = ("qa", "qa_lead")
CITY_TZ = ZoneInfo("Asia/Shanghai")
_rng = random.SystemRandom()  # which calls are sampled must not be predictable by seats


@dataclass(frozen=True)
class SampleRequest:
    day: date  # in the city's time zone
    percent: int  # of each seat's answered calls, rounded up: a seat with calls gets >= 1
    reviewers: tuple[str, ...]
    city: str | None = None


@dataclass
class SampleResult:
    day: date
    percent: int
    by_seat: dict[str, tuple[int, int]] = field(default_factory=dict)  # seat -> (answered, new)
    assigned: list[QaAssignment] = field(default_factory=list)


def day_window(day: date, tz: ZoneInfo = CITY_TZ) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tz)
    return start, start + timedelta(days=1)


def yesterday(now: datetime, tz: ZoneInfo = CITY_TZ) -> date:
    return now.astimezone(tz).date() - timedelta(days=1)


async def _check_reviewers(sessions: Sessions, names: tuple[str, ...]) -> None:
    async with sessions() as session:
        found = set(
            (
                await session.scalars(
                    select(User.username).where(
                        User.username.in_(names),
                        User.role.in_(REVIEWER_ROLES),
                        User.active.is_(True),
                    )
                )
            ).all()
        )
    unknown = [n for n in names if n not in found]
    if unknown:
        raise Invalid("这些账号不是在岗质检员：" + "、".join(unknown))


async def sample(
    sessions: Sessions, req: SampleRequest, by: str, rng: random.Random = _rng
) -> SampleResult:
    """Draws ceil(percent% of each seat's answered calls of the day) among calls not yet
    assigned and deals them to the reviewers in turn, the least loaded first."""
    if len(set(req.reviewers)) != len(req.reviewers):
        raise Invalid("质检员重复")
    await _check_reviewers(sessions, req.reviewers)
    start, end = day_window(req.day)
    # Outer join, not IN (...): a day of a big city is more calls than a statement's parameters.
    query = (
        select(CallRecord.call_id, CallRecord.seat_id, QaAssignment.id)
        .outerjoin(QaAssignment, QaAssignment.call_id == CallRecord.call_id)
        .where(
            CallRecord.entered_at >= start,
            CallRecord.entered_at < end,
            CallRecord.answered_at.is_not(None),
            CallRecord.seat_id.is_not(None),
        )
    )
    if req.city:
        query = query.where(CallRecord.city == req.city)
    result = SampleResult(day=req.day, percent=req.percent)
    async with sessions() as session:
        rows = (await session.execute(query.order_by(CallRecord.id))).all()
        counted = await session.execute(
            select(QaAssignment.reviewer, func.count())
            .where(QaAssignment.reviewer.in_(req.reviewers), QaAssignment.status == "pending")
            .group_by(QaAssignment.reviewer)
        )
        load = {str(name): int(n) for name, n in counted}
    taken = {call_id for call_id, _seat, assignment in rows if assignment is not None}
    per_seat: dict[str, list[str]] = defaultdict(list)
    for call_id, seat_id, _assignment in rows:
        per_seat[str(seat_id)].append(call_id)
    picked: list[tuple[str, str]] = []
    for seat_id in sorted(per_seat):
        answered = per_seat[seat_id]
        want = math.ceil(len(answered) * req.percent / 100)
        already = sum(1 for c in answered if c in taken)
        free = [c for c in answered if c not in taken]
        chosen = rng.sample(free, min(len(free), max(want - already, 0)))
        result.by_seat[seat_id] = (len(answered), len(chosen))
        picked.extend((seat_id, c) for c in chosen)
    rng.shuffle(picked)  # seats mixed across reviewers
    order = sorted(req.reviewers, key=lambda n: (load.get(n, 0), n))
    try:
        async with sessions.begin() as session:
            for n, (seat_id, call_id) in enumerate(picked):
                row = QaAssignment(
                    call_id=call_id, seat_id=seat_id, reviewer=order[n % len(order)], assigned_by=by
                )
                session.add(row)
                result.assigned.append(row)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict("另一次抽检同时分配了其中的通话，请重试") from exc
    return result


async def assign(sessions: Sessions, call_id: str, reviewer: str, by: str) -> QaAssignment:
    """Assign one call by hand, or hand a pending one to another reviewer."""
    await _check_reviewers(sessions, (reviewer,))
    async with sessions.begin() as session:
        record = await session.scalar(select(CallRecord).where(CallRecord.call_id == call_id))
        if record is None:
            raise NotFound(f"no call {call_id}")
        row = await session.scalar(select(QaAssignment).where(QaAssignment.call_id == call_id))
        if row is None:
            row = QaAssignment(
                call_id=call_id, seat_id=record.seat_id, reviewer=reviewer, assigned_by=by
            )
            session.add(row)
        elif row.status != "pending":
            raise Conflict(f"call {call_id} has been reviewed already")
        else:
            row.reviewer, row.assigned_by, row.assigned_at = reviewer, by, utcnow()
        try:
            await session.flush()
        except IntegrityError as exc:
            raise Conflict(f"call {call_id} was assigned meanwhile") from exc
        return row


async def listing(
    sessions: Sessions,
    *,
    reviewer: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[tuple[QaAssignment, CallRecord]], int]:
    """A page of assignments with their calls (oldest call first: work the backlog in order),
    and how many there are in all."""
    query = select(QaAssignment, CallRecord).join(
        CallRecord, CallRecord.call_id == QaAssignment.call_id
    )
    if reviewer:
        query = query.where(QaAssignment.reviewer == reviewer)
    if status:
        query = query.where(QaAssignment.status == status)
    async with sessions() as session:
        total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = await session.execute(
            query.order_by(CallRecord.entered_at, QaAssignment.id).limit(limit).offset(offset)
        )
        return [(a, c) for a, c in rows], total


async def of_call(sessions: Sessions, call_id: str) -> QaAssignment | None:
    async with sessions() as session:
        return await session.scalar(select(QaAssignment).where(QaAssignment.call_id == call_id))
