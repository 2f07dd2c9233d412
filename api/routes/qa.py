"""QA: search calls, the call's recordings, scores against the rubric, comments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api import schemas as s
from api import views
from api.auth import QaUser
from api.deps import SessionsDep
from api.services import calls, qa

router = APIRouter(prefix="/api/qa", tags=["qa"])


@router.get("/calls")
async def search_calls(
    who: QaUser,
    sessions: SessionsDep,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    city: Annotated[str | None, Query(max_length=32)] = None,
    seat_id: Annotated[str | None, Query(max_length=32)] = None,
    skill: Annotated[str | None, Query(max_length=16)] = None,
    outcome: Annotated[str | None, Query(max_length=24)] = None,
    overflowed: bool | None = None,
    q: Annotated[str | None, Query(max_length=100, description="text in the transcript")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[s.CallOut]:
    found = await calls.search(
        sessions,
        calls.CallFilter(
            date_from=date_from,
            date_to=date_to,
            city=city,
            seat_id=seat_id,
            skill=skill,
            outcome=outcome,
            overflowed=overflowed,
            text=q,
            limit=limit,
            offset=offset,
        ),
    )
    return [views.call(c) for c in found]


@router.get("/calls/{call_id}", responses={404: {}})
async def call(call_id: str, who: QaUser, sessions: SessionsDep) -> s.QaCallOut:
    record = await calls.record(sessions, call_id)
    recordings = await calls.recordings_of_call(sessions, call_id)
    return s.QaCallOut(
        call=views.call(record),
        recordings=[views.recording(r) for r in recordings if r.deleted_at is None],
        scores=[views.score(x) for x in await qa.scores(sessions, call_id)],
        comments=[views.comment(c) for c in await qa.comments(sessions, call_id)],
        transfers=[views.transfer(t) for t in await calls.transfers(sessions, call_id)],
    )


@router.get("/rubric")
async def rubric(who: QaUser, sessions: SessionsDep) -> s.RubricOut:
    row = await qa.rubric(sessions)
    return s.RubricOut(id=row.id, name=row.name, items=row.items)


@router.post("/calls/{call_id}/scores", status_code=201, responses={404: {}, 422: {}})
async def add_score(
    call_id: str, body: s.ScoreIn, who: QaUser, sessions: SessionsDep
) -> s.ScoreOut:
    await calls.record(sessions, call_id)  # 404 for an unknown call
    row = await qa.add_score(
        sessions, call_id, who.username, body.rubric_id, dict(body.scores), body.remark
    )
    return views.score(row)


@router.get("/calls/{call_id}/comments", responses={404: {}})
async def comments(call_id: str, who: QaUser, sessions: SessionsDep) -> list[s.CommentOut]:
    await calls.record(sessions, call_id)
    return [views.comment(c) for c in await qa.comments(sessions, call_id)]


@router.post("/calls/{call_id}/comments", status_code=201, responses={404: {}})
async def add_comment(
    call_id: str, body: s.CommentIn, who: QaUser, sessions: SessionsDep
) -> s.CommentOut:
    await calls.record(sessions, call_id)
    return views.comment(
        await qa.add_comment(sessions, call_id, who.username, body.text, body.at_s)
    )
