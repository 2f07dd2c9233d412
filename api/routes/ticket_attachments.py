"""办结 with attachments (multipart) and their download.

The reply with files has a path of its own, ``/api/ticket-replies/{id}``, so that the body cap
exemption (api.deps ``REPLY_PATH``) covers it and nothing else. A download is for whoever may
see the ticket: the dispatchers, the seats of the 回访 desk, and the unit that leads the ticket;
a unit user asking for another unit's file gets 404, the same as for a missing one, so that the
answer does not tell which attachment ids exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import FileResponse

from api import schemas_tickets as st
from api.auth import Principal, require
from api.deps import Deps, SessionsDep
from api.routes.tickets import LoopUser, TicketId, detail_out
from api.services import attachments as svc
from api.services import tickets as tsvc
from tickets.attachments import AttachmentError, Limits, Upload

router = APIRouter(prefix="/api", tags=["tickets"])
UnitUser = Annotated[Principal, Depends(require("unit"))]
AttachmentId = TicketId  # a 32-bit row id as well


@router.post("/ticket-replies/{ticket_id}", responses={403: {}, 404: {}, 409: {}, 413: {}, 422: {}})
async def reply(
    ticket_id: TicketId,
    who: UnitUser,
    sessions: SessionsDep,
    deps: Deps,
    # No NUL (PostgreSQL cannot store one in text), as the JSON bodies' Strict models refuse.
    reason: Annotated[str, Form(max_length=2000, pattern=r"^[^\x00]*$")] = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> st.TicketDetail:
    """办结 (the unit's reply) with files: photos, PDF, Office documents, checked by their bytes.
    Too many files or a wrong kind: 422 with a stable ``code``; too large: 413."""
    actor = await tsvc.actor_of(sessions, who)
    uploads = await _read(files or [], deps.attachment_limits)
    await svc.reply(sessions, deps, actor, ticket_id, reason, uploads)
    return detail_out(await tsvc.detail(sessions, actor, ticket_id, scoped=False))


async def _read(files: list[UploadFile], limits: Limits) -> list[Upload]:
    if len(files) > limits.max_files:  # before any is read
        raise AttachmentError(f"每次办结最多上传 {limits.max_files} 个附件", "attachment_too_many")
    # One byte past the cap is enough to refuse a file as too large without holding all of it.
    return [Upload(f.filename or "", await f.read(limits.max_file_bytes + 1)) for f in files]


@router.get(
    "/ticket-attachments/{attachment_id}",
    response_class=FileResponse,
    responses={403: {}, 404: {}},
)
async def download(
    attachment_id: AttachmentId, who: LoopUser, sessions: SessionsDep, deps: Deps
) -> FileResponse:
    """One attachment, always as a download (never shown inline), under its cleaned name."""
    actor = await tsvc.actor_of(sessions, who)
    found, path = await svc.download(sessions, deps, actor, attachment_id)
    return FileResponse(
        path,
        media_type=found.content_type,
        filename=found.name,
        content_disposition_type="attachment",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )
