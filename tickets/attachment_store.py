"""A 办结 reply with its attachments, on disk and in the database; who may read them back.

The files are written first (outside the ticket's row lock), then the reply step and the
attachments' rows are committed in one transaction; a refused step or a failed commit removes
the files again, so a file on disk without its row is never left behind by a refusal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store import files
from store.base import utcnow
from tickets.attachments import AttachmentNotFound, Checked
from tickets.lifecycle import Action, Command, Role
from tickets.loop import Actor, act
from tickets.models import Ticket, TicketAttachment
from tickets.workdays import WorkCalendar

AREA = "tickets"  # files lie under <data dir>/tickets/<day>/


async def reply(
    session: AsyncSession,
    ticket_id: int,
    reason: str,
    actor: Actor,
    checked: Sequence[Checked],
    root: Path,
    *,
    calendar: WorkCalendar | None = None,
    now: datetime | None = None,
) -> Ticket:
    """办结 with checked attachments; the lifecycle's refusals as :func:`tickets.loop.act`'s."""
    now = now or utcnow()
    paths = await asyncio.to_thread(_write, root, checked, now)
    try:
        cmd = Command(Action.REPLY, actor.role, reason=reason)
        ticket = await act(session, ticket_id, cmd, actor, now=now, calendar=calendar, commit=False)
        for item, path in zip(checked, paths, strict=True):
            session.add(_row(ticket, actor, item, path, now))
        await session.commit()
    except BaseException:
        await session.rollback()
        await asyncio.to_thread(files.remove, root, paths)
        raise
    return ticket


def _write(root: Path, checked: Sequence[Checked], now: datetime) -> list[str]:
    paths: list[str] = []
    try:
        for item in checked:
            paths.append(files.write_new(root, AREA, item.data, item.kind.ext, now))
    except OSError:
        files.remove(root, paths)
        raise
    return paths


def _row(ticket: Ticket, actor: Actor, item: Checked, path: str, now: datetime) -> TicketAttachment:
    return TicketAttachment(
        ticket_id=ticket.id,
        # The reply's round: a visit that reopens the ticket counts the next reply as a new one.
        reply_round=ticket.reopen_count,
        uploaded_by=actor.name,
        unit_id=actor.unit_id,
        uploaded_at=now,
        name=item.name,
        content_type=item.kind.mime,
        size=len(item.data),
        sha256=item.sha256,
        path=path,
    )


async def of_ticket(session: AsyncSession, ticket_id: int) -> list[TicketAttachment]:
    rows = await session.scalars(
        select(TicketAttachment)
        .where(TicketAttachment.ticket_id == ticket_id)
        .order_by(TicketAttachment.id)
    )
    return list(rows.all())


async def readable(session: AsyncSession, actor: Actor, attachment_id: int) -> TicketAttachment:
    """The attachment, if the actor may see its ticket: staff of the loop, and a unit only for
    the tickets it leads now (as the ticket itself). Any other: not found, so that another
    unit cannot tell an existing attachment from a missing one."""
    found = (
        await session.execute(
            select(TicketAttachment, Ticket.lead_unit_id)
            .join(Ticket, Ticket.id == TicketAttachment.ticket_id)
            .where(TicketAttachment.id == attachment_id)
        )
    ).first()
    if found is None or (actor.role is Role.UNIT and found[1] != actor.unit_id):
        raise AttachmentNotFound(f"没有编号为 {attachment_id} 的附件")
    attachment: TicketAttachment = found[0]
    return attachment
