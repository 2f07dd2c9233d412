"""办结 with attachments and their download, for the API: limits and the data dir from the
process's dependencies, the rules from tickets."""

from __future__ import annotations

import asyncio
from pathlib import Path

from api.deps import AppDeps
from store import files
from store.sessions import Sessions
from tickets import attachment_store, loop
from tickets.attachments import AttachmentError, AttachmentNotFound, Upload, check
from tickets.lifecycle import Action, Command
from tickets.models import TicketAttachment


async def reply(
    sessions: Sessions,
    deps: AppDeps,
    actor: loop.Actor,
    ticket_id: int,
    reason: str,
    uploads: list[Upload],
) -> None:
    """办结 with its files: every file checked before anything is written or changed."""
    # Hashing and typing 20 MB takes tens of milliseconds: off the event loop.
    checked = await asyncio.to_thread(check, uploads, deps.attachment_limits)
    async with sessions() as session:
        if not checked:
            cmd = Command(Action.REPLY, actor.role, reason=reason)
            await loop.act(session, ticket_id, cmd, actor, calendar=deps.calendar)
            return
        if deps.attachments_dir is None:
            raise AttachmentError("本系统未配置附件存储，不能上传附件", "attachments_disabled")
        await attachment_store.reply(
            session, ticket_id, reason, actor, checked, deps.attachments_dir, calendar=deps.calendar
        )


async def download(
    sessions: Sessions, deps: AppDeps, actor: loop.Actor, attachment_id: int
) -> tuple[TicketAttachment, Path]:
    """The attachment and its file, if the actor may see the ticket (else not found)."""
    async with sessions() as session:
        found = await attachment_store.readable(session, actor, attachment_id)
    root = deps.attachments_dir
    path = files.inside(root, found.path) if root is not None else None
    if path is None:
        raise AttachmentNotFound("附件文件已不存在，请联系管理员", "attachment_file_missing")
    return found, path
