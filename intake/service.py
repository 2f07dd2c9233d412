"""A message from any channel → a 受理 ticket: the draft builder reads the citizen's words as it
reads a caller's, the ticket records the channel, and the message is kept beside it. One
transaction writes both, so a duplicate (platform, message id) leaves no ticket behind."""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from asr.draft import DirectoryEntry, Draft, DraftBuilder, Utterance
from intake.models import IntakeMessage
from knowledge.search import Hint
from store.base import utcnow
from tickets import channels
from tickets.models import Ticket
from tickets.service import create_ticket, department_directory
from tickets.workdays import WorkCalendar

MAX_TEXT = 2000


class IntakeError(ValueError):
    """A message the rules refuse; ``code`` is stable for clients."""

    code = "intake_refused"


class Duplicate(IntakeError):
    code = "intake_duplicate"

    def __init__(self, message: str, ticket_id: int) -> None:
        super().__init__(message)
        self.ticket_id = ticket_id


@dataclass(frozen=True)
class Submission:
    channel: str
    text: str
    phone: str
    name: str = ""
    location: str | None = None
    lat: float | None = None
    lon: float | None = None
    photos: tuple[str, ...] = field(default_factory=tuple)
    platform: str = ""  # empty: the channel itself
    message_id: str | None = None
    received_at: datetime | None = None

    def check(self) -> None:
        if self.channel not in channels.LABELS or self.channel == channels.PHONE:
            raise IntakeError(f"未知的渠道: {self.channel}")
        if not self.text.strip():
            raise IntakeError("诉求内容不能为空")
        if len(self.text) > MAX_TEXT:
            raise IntakeError(f"诉求内容不能超过 {MAX_TEXT} 字")
        if not self.phone.strip():
            raise IntakeError("联系电话不能为空")


class Drafter:
    """The builder behind a lock: one jieba tokenizer is shared by the threads it runs in."""

    def __init__(self, builder: DraftBuilder | None = None) -> None:
        self.builder = builder or DraftBuilder()
        self._lock = threading.Lock()

    def _build(self, text: str, directory: list[DirectoryEntry]) -> Draft:
        with self._lock:
            return self.builder.build([Utterance("caller", text)], directory)

    def _hint(self, text: str) -> Hint | None:
        with self._lock:
            b = self.builder
            category = b.category(text, b.tokens(text))
            if category == b.rules.fallback_category:
                return None
            return Hint(category, tuple(b.rules.categories[category]))

    async def hint(self, text: str) -> Hint | None:
        """What the builder makes of the words for a 知识库 search: the category and its
        keywords (None when it finds no category)."""
        return await asyncio.to_thread(self._hint, text)

    async def draft(self, session: AsyncSession, sub: Submission) -> Draft:
        directory = [
            DirectoryEntry(d.name, d.number, d.duty_hours, d.categories)
            for d in await department_directory(session)
        ]
        draft = await asyncio.to_thread(self._build, sub.text, directory)
        if draft.location is None and sub.location:
            # The place the citizen typed (or picked on the map) where the words name none.
            draft = replace(draft, location=sub.location[:200])
        return draft


async def existing(session: AsyncSession, platform: str, message_id: str) -> int | None:
    """The ticket an already received message became, if any."""
    return await session.scalar(
        select(IntakeMessage.ticket_id).where(
            IntakeMessage.platform == platform, IntakeMessage.message_id == message_id
        )
    )


async def accept(
    session: AsyncSession, drafter: Drafter, sub: Submission, calendar: WorkCalendar
) -> Ticket:
    """The ticket of a new message; ``Duplicate`` (with the earlier ticket) when the platform's
    message id was seen before, also when another process stored it a moment ago."""
    sub.check()
    platform = sub.platform or sub.channel
    if sub.message_id is not None:
        earlier = await existing(session, platform, sub.message_id)
        if earlier is not None:
            raise Duplicate(f"消息 {sub.message_id} 已受理", earlier)
    draft = await drafter.draft(session, sub)
    received = sub.received_at or utcnow()
    ticket = await create_ticket(
        session,
        draft,
        call_id=f"{sub.channel}:{uuid.uuid4().hex[:16]}",
        caller_number=sub.phone,
        accepted_at=utcnow(),
        calendar=calendar,
        channel=sub.channel,
        commit=False,
    )
    session.add(
        IntakeMessage(
            channel=sub.channel,
            platform=platform,
            message_id=sub.message_id,
            ticket_id=ticket.id,
            name=sub.name[:50],
            phone=sub.phone,
            text=sub.text,
            location=sub.location,
            lat=sub.lat,
            lon=sub.lon,
            photos=list(sub.photos),
            received_at=received,
        )
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        earlier = await existing(session, platform, sub.message_id or "")
        if earlier is None:
            raise
        raise Duplicate(f"消息 {sub.message_id} 已受理", earlier) from None
    return ticket


async def message_of(session: AsyncSession, ticket_id: int) -> IntakeMessage | None:
    return await session.scalar(select(IntakeMessage).where(IntakeMessage.ticket_id == ticket_id))
