"""Recordings and transcripts: QA and admin hear any, a seat only its own calls'. Every
playback and every transcript view is written to the audit log first. ``<audio src>`` cannot
send a header: it carries a 5-minute token for that one recording (POST .../token)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from api import schemas as s
from api import views
from api.auth import (
    RECORDING_TOKEN_TTL_S,
    Forbidden,
    Principal,
    Unauthenticated,
    bearer_token,
    issue_recording_token,
    recording_principal,
    require,
    resolve_token,
)
from api.deps import Deps, SessionsDep
from api.services import calls, qa
from recording.models import Recording
from store.errors import NotFound
from store.sessions import Sessions

router = APIRouter(prefix="/api/recordings", tags=["recordings"])
LISTENERS = ("seat", "qa", "qa_lead", "admin")
Listener = Depends(require(*LISTENERS))
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


def _inside(root: Path, path: Path) -> Path | None:
    """The file, with every symlink resolved, if it lies inside the recordings directory."""
    real = path.resolve()
    return real if real.is_file() and real.is_relative_to(root.resolve()) else None


async def _listener(recording_id: s.RowId, request: Request, deps: Deps) -> Principal:
    """The session token in the header, or this recording's own token as ``?token=``."""
    token = bearer_token(request)
    if token:
        who = await resolve_token(deps.redis, token)
    else:
        query = request.query_params.get("token")
        who = await recording_principal(deps.redis, query, recording_id) if query else None
    if who is None:
        if not token and not request.query_params.get("token"):
            raise Unauthenticated("not logged in")
        raise Unauthenticated("session or audio token expired or unknown; log in again")
    if who.role not in LISTENERS:
        raise Forbidden(f"role {who.role} may not do this (needs {' or '.join(LISTENERS)})")
    return who


@router.post("/{recording_id}/token", responses={403: {}, 404: {}})
async def audio_token(
    recording_id: s.RowId, deps: Deps, sessions: SessionsDep, who: Principal = Listener
) -> s.AudioTokenOut:
    """A token that plays this recording for 5 minutes: for ``<audio src>``, which cannot send
    the Authorization header (the session token never goes into a URL)."""
    row = await _allowed(sessions, who, recording_id)
    token = await issue_recording_token(deps.redis, who, row.id)
    return s.AudioTokenOut(
        token=token,
        expires_in_s=RECORDING_TOKEN_TTL_S,
        url=f"/api/recordings/{row.id}/audio?token={token}",
    )


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
    recording_id: s.RowId,
    request: Request,
    deps: Deps,
    sessions: SessionsDep,
    who: Annotated[Principal, Depends(_listener)],
) -> FileResponse:
    """The audio file; honours Range (bytes=0-99, bytes=-500, ...) so players can seek.
    Takes the Authorization header, or as ``?token=`` a token from POST .../token."""
    row = await _allowed(sessions, who, recording_id)
    if row.deleted_at is not None:
        raise NotFound(f"the audio of recording {recording_id} is no longer stored")
    root = deps.recordings_dir
    path = await asyncio.to_thread(_inside, root, Path(row.path)) if root else None
    if path is None:
        # Gone, or a path (or symlink) leading out of the recordings directory: never served.
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
