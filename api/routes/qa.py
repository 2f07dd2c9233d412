"""QA: search calls, the call's recordings and interleaved transcript, scores against the
rubric, comments, holding a call's recordings from retention."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api import schemas as s
from api import views
from api.auth import QaUser
from api.deps import Deps, SessionsDep
from api.services import calls, qa, qa_assign, qa_transcript
from recording.hold import set_hold

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
    assigned = await qa_assign.of_call(sessions, call_id)
    return s.QaCallOut(
        call=views.call(record),
        recordings=[views.recording(r) for r in recordings if r.deleted_at is None],
        scores=[views.score(x) for x in await qa.scores(sessions, call_id)],
        comments=[views.comment(c) for c in await qa.comments(sessions, call_id)],
        transfers=[views.transfer(t) for t in await calls.transfers(sessions, call_id)],
        held=any(r.qa_hold for r in recordings),
        assignment=views.assignment(assigned) if assigned else None,
    )


@router.get("/calls/{call_id}/transcript", responses={404: {}})
async def call_transcript(
    call_id: str,
    who: QaUser,
    sessions: SessionsDep,
    recording_id: Annotated[int | None, Query(ge=1, le=s.MAX_ID)] = None,
) -> s.CallTranscriptOut:
    """The caller's and the seat's lines in time order, on the timeline of ``recording_id``
    (default: the mixed recording, which the page plays). Audited per transcript read."""
    await calls.record(sessions, call_id)
    found = await qa_transcript.of_call(sessions, call_id, recording_id)
    for rid in found.sources:
        await qa.audit(sessions, who, "transcript.view", f"recording:{rid}", call_id)
    return s.CallTranscriptOut(
        call_id=call_id,
        recording_id=found.recording_id,
        lines=[
            s.LineOut(
                speaker=ln.speaker,
                start_s=ln.start_s,
                end_s=ln.end_s,
                text=ln.text,
                confidence=ln.confidence,
            )
            for ln in found.lines
        ],
        pending=found.pending,
    )


@router.put("/calls/{call_id}/hold", responses={404: {}})
async def hold(call_id: str, body: s.HoldIn, who: QaUser, sessions: SessionsDep) -> s.HoldOut:
    """Hold (or release) the call's recordings: retention does not delete held files."""
    await calls.record(sessions, call_id)
    count = await set_hold(sessions, call_id, body.held)
    action = "recording.hold" if body.held else "recording.release"
    await qa.audit(sessions, who, action, f"call:{call_id}", call_id, f"{count} file(s)")
    return s.HoldOut(call_id=call_id, held=body.held, recordings=count)


@router.get("/cities")
async def cities(who: QaUser, deps: Deps) -> list[s.CityLabelOut]:
    """The cities with the names staff read (settings.cities labels)."""
    return [s.CityLabelOut(city=c, label=deps.city_labels.get(c, c)) for c in deps.cities]


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
        sessions,
        call_id,
        who.username,
        body.rubric_id,
        dict(body.scores),
        body.remark,
        dict(body.item_remarks),
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
