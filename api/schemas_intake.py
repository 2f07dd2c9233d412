"""Bodies of the public intake, the 留言 imports and the ticket statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from api.schemas import Strict
from intake.photos import MAX_PHOTO_BYTES, MAX_PHOTOS

# A mainland mobile number: the confirmation code goes to it by SMS.
Mobile = Annotated[str, StringConstraints(pattern=r"^1[3-9][0-9]{9}$")]
MessageId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")]
# base64 of at most MAX_PHOTO_BYTES (4 characters per 3 bytes)
Photo = Annotated[str, StringConstraints(max_length=(MAX_PHOTO_BYTES + 2) // 3 * 4)]


class IntakeIn(Strict):
    """A citizen's message from the web form, a mini-program or the app."""

    text: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    phone: Mobile
    name: Annotated[str, StringConstraints(max_length=50)] = ""
    location: Annotated[str, StringConstraints(max_length=200)] | None = None
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    photos: list[Photo] = Field(default_factory=list, max_length=MAX_PHOTOS)
    # The client's own id of the message: a retry with the same id makes no second ticket.
    message_id: MessageId | None = None


class SmsIn(Strict):
    """A message the SMS gateway received: the carrier vouches for the number, no code."""

    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{3,20}$")]
    text: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    message_id: MessageId


class IntakeHeld(BaseModel):
    pending_id: str
    expires_in_s: int
    message: str


class ConfirmIn(Strict):
    pending_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{16,64}$")]
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]


class IntakeAccepted(BaseModel):
    ticket_number: str
    channel: str
    status: str
    category: str
    due_at: datetime
    duplicate: bool = False  # the message id was received before: the earlier ticket


class DuplicateRowOut(BaseModel):
    line: int
    message_id: str
    ticket_id: int


class BadRowOut(BaseModel):
    line: int
    reason: str


class ImportOut(BaseModel):
    created: list[int]
    duplicates: list[DuplicateRowOut]
    bad: list[BadRowOut]


class StatRowOut(BaseModel):
    group: dict[str, str]
    label: str  # the group in Chinese (channel names as staff read them)
    total: int
    direct_answers: int
    kb_answers: int
    direct_answer_rate: float
