"""Seats' appeals (申诉) against QA scores: once per score, resolved by a QA lead, audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from acd.calls.tables import CallRecord
from api.auth import Forbidden, Principal
from api.errors import Invalid
from api.models import AuditEntry, QaAppeal, QaRubric, QaScore
from api.services.qa import check_scores
from store.base import utcnow
from store.errors import Conflict, NotFound
from store.sessions import Sessions

Decision = Literal["upheld", "changed"]


@dataclass(frozen=True)
class SeatScore:
    score: QaScore
    labels: dict[str, str]  # rubric item key -> label, for the seat to read
    appeal: QaAppeal | None


async def scores_of_seat(
    sessions: Sessions, seat_id: str, limit: int, offset: int
) -> tuple[list[SeatScore], int]:
    """The scores of calls the seat answered, newest first, with their appeals."""
    query = (
        select(QaScore, QaRubric, QaAppeal)
        .join(CallRecord, CallRecord.call_id == QaScore.call_id)
        .join(QaRubric, QaRubric.id == QaScore.rubric_id)
        .outerjoin(QaAppeal, QaAppeal.score_id == QaScore.id)
        .where(CallRecord.seat_id == seat_id)
    )
    async with sessions() as session:
        total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = await session.execute(query.order_by(QaScore.id.desc()).limit(limit).offset(offset))
        out = [
            SeatScore(score, {str(i["key"]): str(i["label"]) for i in rubric.items}, appeal)
            for score, rubric, appeal in rows
        ]
        return out, total


async def appeal(sessions: Sessions, who: Principal, score_id: int, reason: str) -> QaAppeal:
    if not who.seat_id:
        raise Forbidden(f"user {who.username} has no seat")
    async with sessions.begin() as session:
        score = await session.get(QaScore, score_id)
        if score is None:
            raise NotFound(f"no score {score_id}")
        seat_id = await session.scalar(
            select(CallRecord.seat_id).where(CallRecord.call_id == score.call_id)
        )
        if seat_id != who.seat_id:
            raise Forbidden(f"score {score_id} is not of a call of seat {who.seat_id}")
        if await session.scalar(select(QaAppeal.id).where(QaAppeal.score_id == score_id)):
            raise Conflict("该评分已申诉过，每个评分只能申诉一次")
        row = QaAppeal(
            score_id=score_id,
            call_id=score.call_id,
            seat_id=who.seat_id,
            appellant=who.username,
            reason=reason,
        )
        session.add(row)
        session.add(_audit(who, "qa.appeal", row.call_id, f"score:{score_id}", reason))
        try:
            await session.flush()
        except IntegrityError as exc:  # the same appeal sent twice at once
            raise Conflict("该评分已申诉过，每个评分只能申诉一次") from exc
        return row


async def listing(
    sessions: Sessions, status: str | None, limit: int, offset: int
) -> tuple[list[tuple[QaAppeal, QaScore]], int]:
    """Appeals with the score they are against, oldest first (answer them in turn)."""
    query = select(QaAppeal, QaScore).join(QaScore, QaScore.id == QaAppeal.score_id)
    if status:
        query = query.where(QaAppeal.status == status)
    async with sessions() as session:
        total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = await session.execute(query.order_by(QaAppeal.id).limit(limit).offset(offset))
        return [(a, sc) for a, sc in rows], total


async def resolve(
    sessions: Sessions,
    who: Principal,
    appeal_id: int,
    decision: Decision,
    note: str,
    scores: dict[str, int] | None,
) -> tuple[QaAppeal, QaScore]:
    """Upheld: the score stands. Changed: the score takes the new values, the old ones stay on
    the appeal. Either way once, and written to the audit log in the same transaction."""
    if (decision == "changed") != (scores is not None):
        raise Invalid("改分时须给出全部评分项；维持原评分时不能给出评分")
    async with sessions.begin() as session:
        row = await session.get(QaAppeal, appeal_id)
        if row is None:
            raise NotFound(f"no appeal {appeal_id}")
        score = await session.get(QaScore, row.score_id)
        assert score is not None  # a foreign key
        old_scores, old_total = dict(score.scores), score.total
        if scores is not None:
            form = await session.get(QaRubric, score.rubric_id)
            assert form is not None  # a foreign key
            limits = check_scores(form, scores)
            if scores == old_scores:
                raise Invalid("新评分与原评分相同，请选择维持原评分")
            score.scores = dict(scores)
            score.total = sum(scores.values())
            score.max_total = sum(limits.values())
        # Conditional on still being open: of two leads resolving at once, one wins.
        won = await session.execute(
            update(QaAppeal)
            .where(QaAppeal.id == appeal_id, QaAppeal.status == "open")
            .values(
                status=decision,
                resolved_by=who.username,
                resolved_at=utcnow(),
                resolution=note,
                old_scores=old_scores if scores is not None else None,
                old_total=old_total if scores is not None else None,
            )
            .execution_options(synchronize_session=False)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(f"appeal {appeal_id} has been resolved already")
        detail = f"{decision} {old_total}->{score.total}: {note}"
        session.add(_audit(who, "qa.appeal.resolve", row.call_id, f"appeal:{appeal_id}", detail))
        await session.flush()
        await session.refresh(row)
        return row, score


def _audit(who: Principal, action: str, call_id: str, target: str, detail: str) -> AuditEntry:
    return AuditEntry(
        user_id=who.user_id,
        username=who.username,
        action=action,
        target=target,
        call_id=call_id,
        detail=detail[:200],
    )
