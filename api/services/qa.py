"""QA: the scoring rubric, scores, comments, and the audit log of who listened to what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from api.auth import Principal
from api.errors import Invalid
from api.models import AuditEntry, QaAssignment, QaComment, QaRubric, QaScore
from store.base import utcnow
from store.errors import NotFound
from store.sessions import Sessions

# Used until an admin saves a rubric of their own.
DEFAULT_RUBRIC: list[dict[str, Any]] = [
    {"key": "greeting", "label": "开场规范", "max": 10},
    {"key": "listening", "label": "倾听与确认诉求", "max": 20},
    {"key": "policy", "label": "政策解答准确", "max": 25},
    {"key": "ticket", "label": "工单记录完整", "max": 25},
    {"key": "attitude", "label": "服务态度", "max": 15},
    {"key": "closing", "label": "结束语规范", "max": 5},
]
DEFAULT_NAME = "12345 通话质检标准"


async def rubric(sessions: Sessions) -> QaRubric:
    """The newest active rubric; the default one is stored on first use."""
    async with sessions.begin() as session:
        row = await session.scalar(
            select(QaRubric).where(QaRubric.active.is_(True)).order_by(QaRubric.id.desc())
        )
        if row is None:
            row = QaRubric(name=DEFAULT_NAME, items=DEFAULT_RUBRIC)
            session.add(row)
            await session.flush()
        return row


def _check_items(items: list[dict[str, Any]]) -> None:
    keys = [i["key"] for i in items]
    if not items:
        raise Invalid("a rubric needs at least one item")
    if len(set(keys)) != len(keys):
        raise Invalid("rubric item keys must be unique")


async def save_rubric(sessions: Sessions, name: str, items: list[dict[str, Any]]) -> QaRubric:
    """A new version: older scores keep pointing at the rubric they were given with."""
    _check_items(items)
    async with sessions.begin() as session:
        for old in await session.scalars(select(QaRubric).where(QaRubric.active.is_(True))):
            old.active = False
        row = QaRubric(name=name, items=items)
        session.add(row)
        await session.flush()
        return row


def check_scores(form: QaRubric, scores: dict[str, int]) -> dict[str, int]:
    """Every item of the rubric scored, none else, each within its maximum: no item may be
    left to a default. Returns the maxima by key."""
    limits = {str(i["key"]): int(i["max"]) for i in form.items}
    missing = sorted(set(limits) - set(scores))
    extra = sorted(set(scores) - set(limits))
    if missing or extra:
        raise Invalid(
            "scores must cover exactly the rubric's items"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(extra)}" if extra else "")
        )
    for key, value in scores.items():
        if not 0 <= value <= limits[key]:
            raise Invalid(f"score {key} must be between 0 and {limits[key]}")
    return limits


async def add_score(
    sessions: Sessions,
    call_id: str,
    reviewer: str,
    rubric_id: int,
    scores: dict[str, int],
    remark: str,
    item_remarks: dict[str, str] | None = None,
) -> QaScore:
    """The score; a call assigned to this reviewer leaves their pending list with it."""
    notes = {k: v for k, v in (item_remarks or {}).items() if v.strip()}
    async with sessions.begin() as session:
        form = await session.get(QaRubric, rubric_id)
        if form is None:
            raise NotFound(f"no rubric {rubric_id}")
        limits = check_scores(form, scores)
        unknown = sorted(set(notes) - set(limits))
        if unknown:
            raise Invalid(f"remarks for unknown items: {', '.join(unknown)}")
        row = QaScore(
            call_id=call_id,
            rubric_id=rubric_id,
            reviewer=reviewer,
            scores=dict(scores),
            total=sum(scores.values()),
            max_total=sum(limits.values()),
            remark=remark,
            item_remarks=notes,
        )
        session.add(row)
        await session.flush()
        await session.execute(
            update(QaAssignment)
            .where(
                QaAssignment.call_id == call_id,
                QaAssignment.reviewer == reviewer,
                QaAssignment.status == "pending",
            )
            .values(status="done", score_id=row.id, done_at=utcnow())
        )
        return row


async def scores(sessions: Sessions, call_id: str) -> list[QaScore]:
    async with sessions() as session:
        rows = await session.scalars(
            select(QaScore).where(QaScore.call_id == call_id).order_by(QaScore.id)
        )
        return list(rows.all())


async def add_comment(
    sessions: Sessions, call_id: str, author: str, text: str, at_s: float | None
) -> QaComment:
    async with sessions.begin() as session:
        row = QaComment(call_id=call_id, author=author, text=text, at_s=at_s)
        session.add(row)
        await session.flush()
        return row


async def comments(sessions: Sessions, call_id: str) -> list[QaComment]:
    async with sessions() as session:
        rows = await session.scalars(
            select(QaComment).where(QaComment.call_id == call_id).order_by(QaComment.id)
        )
        return list(rows.all())


# --- audit ----------------------------------------------------------------------------
async def audit(
    sessions: Sessions,
    who: Principal,
    action: str,
    target: str,
    call_id: str | None = None,
    detail: str = "",
) -> None:
    """Committed before the data is sent: no playback without its audit line."""
    async with sessions.begin() as session:
        session.add(
            AuditEntry(
                user_id=who.user_id,
                username=who.username,
                action=action,
                target=target,
                call_id=call_id,
                detail=detail[:200],
            )
        )


async def audit_log(
    sessions: Sessions,
    *,
    call_id: str | None = None,
    username: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    query = select(AuditEntry)
    if call_id:
        query = query.where(AuditEntry.call_id == call_id)
    if username:
        query = query.where(AuditEntry.username == username)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    async with sessions() as session:
        rows = await session.scalars(query.order_by(AuditEntry.id.desc()).limit(min(limit, 1000)))
        return list(rows.all())
