"""A seat's own QA scores (我的质检) and its appeal (申诉) against one, once per score."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import schemas as s
from api import views
from api.auth import Forbidden, SeatUser
from api.deps import SessionsDep
from api.services import qa_appeals

router = APIRouter(prefix="/api/seat/qa", tags=["seat"])


@router.get("/scores", responses={403: {}})
async def scores(
    who: SeatUser,
    sessions: SessionsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> s.SeatScorePage:
    if not who.seat_id:
        raise Forbidden(f"user {who.username} has no seat")
    rows, total = await qa_appeals.scores_of_seat(sessions, who.seat_id, limit, offset)
    return s.SeatScorePage(
        items=[
            s.SeatScoreOut(
                score=views.score(r.score),
                labels=r.labels,
                appeal=views.appeal(r.appeal) if r.appeal else None,
            )
            for r in rows
        ],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post("/scores/{score_id}/appeal", status_code=201, responses={403: {}, 404: {}, 409: {}})
async def appeal(
    score_id: s.RowId, body: s.AppealIn, who: SeatUser, sessions: SessionsDep
) -> s.AppealOut:
    return views.appeal(await qa_appeals.appeal(sessions, who, score_id, body.reason))
