"""Recordings and transcripts: QA and admin hear any, a seat only its own calls'. Every
playback and every transcript view is written to the audit log first."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from api import schemas as s
from api import views
from api.auth import Forbidden, Principal, require
from api.deps import Sessions, SessionsDep
from api.services import calls, qa
from recording.models import Recording
from store.errors import NotFound

router = APIRouter(prefix="/api/recordings", tags=["recordings"])
Listener = Depends(require("seat", "qa", "qa_lead", "admin"))
_MEDIA = {"wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg", "gsm": "audio/x-gsm"}


async def _allowed(sessions: Sessions, who: Principal, recording_id: int) -> Recording:
    row = await calls.recording(sessions, recording_id)
    if who.role == "seat":
        owner = row.seat_id
        if owner is None:
            record = await calls.record_or_none(sessions, row.call_id)
            owner = record.seat_id if record else None
        if not who.seat_id or owner != who.seat_id:
            raise Forbidden(f"recording {recording_id} is not of a call of seat {who.seat_id}")
    return row


@router.get(
    "/{recording_id}/audio",
    response_class=FileResponse,
    responses={
        206: {"description": "partial content (Range)"},
        403: {},
        404: {},
        416: {"description": "range not satisfiable"},
    },
)
async def audio(
    recording_id: s.RowId, request: Request, sessions: SessionsDep, who: Principal = Listener
) -> FileResponse:
    """The audio file; honours Range (bytes=0-99, bytes=-500, ...) so players can seek.
    Takes the token as ``?token=`` too, for ``<audio src>``."""
    row = await _allowed(sessions, who, recording_id)
    path = Path(row.path)
    if row.deleted_at is not None or not await asyncio.to_thread(path.is_file):
        raise NotFound(f"the audio of recording {recording_id} is no longer stored")
    detail = request.headers.get("range", "")[:100]
    await qa.audit(sessions, who, "recording.play", f"recording:{row.id}", row.call_id, detail)
    kind = path.suffix.lstrip(".").lower()
    return FileResponse(path, media_type=_MEDIA.get(kind, "application/octet-stream"))


@router.get("/{recording_id}/transcript", responses={403: {}, 404: {}})
async def transcript(
    recording_id: s.RowId, sessions: SessionsDep, who: Principal = Listener
) -> s.TranscriptOut:
    row = await _allowed(sessions, who, recording_id)
    text = await calls.transcript_of_recording(sessions, row.id)
    await qa.audit(sessions, who, "transcript.view", f"recording:{row.id}", row.call_id)
    return views.transcript(text)
