"""QA work: sampling calls and assigning them to reviewers, a reviewer's assigned list, and
the QA lead's handling of seats' appeals."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api import schemas as s
from api import views
from api.auth import Forbidden, QaLeadUser, QaUser
from api.deps import SessionsDep
from api.services import qa_appeals, qa_assign
from store.base import utcnow

router = APIRouter(prefix="/api/qa", tags=["qa"])
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=100_000)]


@router.post("/samples", status_code=201, responses={409: {}, 422: {}})
async def sample(body: s.SampleIn, who: QaLeadUser, sessions: SessionsDep) -> s.SampleOut:
    """Sample ``percent``% of each seat's answered calls of ``day`` (rounded up) that are not
    assigned yet, and deal them to ``reviewers``."""
    req = qa_assign.SampleRequest(
        day=body.day or qa_assign.yesterday(utcnow()),
        percent=body.percent,
        reviewers=tuple(body.reviewers),
        city=body.city,
    )
    result = await qa_assign.sample(sessions, req, who.username)
    return s.SampleOut(
        day=result.day,
        percent=result.percent,
        by_seat={
            seat: s.SeatSampleOut(answered=a, sampled=n) for seat, (a, n) in result.by_seat.items()
        },
        assigned=[views.assignment(a) for a in result.assigned],
    )


@router.post("/assignments", status_code=201, responses={404: {}, 409: {}, 422: {}})
async def assign(body: s.AssignIn, who: QaLeadUser, sessions: SessionsDep) -> s.AssignmentOut:
    """Assign one call (or hand a pending one to another reviewer)."""
    return views.assignment(
        await qa_assign.assign(sessions, body.call_id, body.reviewer, who.username)
    )


@router.get("/assignments", responses={403: {}})
async def assignments(
    who: QaUser,
    sessions: SessionsDep,
    reviewer: Annotated[str | None, Query(max_length=64)] = None,
    mine: bool = False,
    status: Literal["pending", "done"] | None = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> s.AssignmentPage:
    """``mine=true``: the caller's own list (我的待检). A reviewer sees only their own (the
    default for them); a QA lead any reviewer's, or all."""
    if mine or (who.role == "qa" and reviewer is None):
        reviewer = who.username
    elif who.role == "qa" and reviewer != who.username:
        raise Forbidden("a reviewer sees only their own assignments")
    rows, total = await qa_assign.listing(
        sessions, reviewer=reviewer, status=status, limit=limit, offset=offset
    )
    return s.AssignmentPage(
        items=[views.assignment(a, c) for a, c in rows], total=total, limit=limit, offset=offset
    )


@router.get("/appeals")
async def appeals(
    who: QaUser,
    sessions: SessionsDep,
    status: Literal["open", "upheld", "changed"] | None = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> s.AppealPage:
    rows, total = await qa_appeals.listing(sessions, status, limit, offset)
    return s.AppealPage(
        items=[views.appeal(a, sc) for a, sc in rows], total=total, limit=limit, offset=offset
    )


@router.post("/appeals/{appeal_id}/resolve", responses={404: {}, 409: {}, 422: {}})
async def resolve(
    appeal_id: s.RowId, body: s.ResolveIn, who: QaLeadUser, sessions: SessionsDep
) -> s.AppealOut:
    """Upheld (维持原评分) or changed (改分, with the whole new score); once."""
    row, score = await qa_appeals.resolve(
        sessions,
        who,
        appeal_id,
        body.decision,
        body.note,
        dict(body.scores) if body.scores is not None else None,
    )
    return views.appeal(row, score)
