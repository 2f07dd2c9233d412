"""Request and response bodies. Requests are strict: unknown fields and bad values get a 422."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from acd.model import PAUSE_REASONS, Skill

SeatId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,32}$")]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=200)]
# A number a seat may dial out to (department, citizen): digits, optional leading +.
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{3,20}$")]
Role = Literal["seat", "dispatcher", "qa", "admin"]
PauseReason = Literal[PAUSE_REASONS]  # type: ignore[valid-type]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


def _no_nul(value: Any) -> None:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("NUL character not allowed")
    if isinstance(value, dict):
        for k, v in value.items():
            _no_nul(k)
            _no_nul(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _no_nul(v)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _text(cls, value: Any) -> Any:
        _no_nul(value)  # PostgreSQL cannot store NUL in text; no staff input has one
        return value


# --- auth -------------------------------------------------------------------------------
class LoginIn(Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Session(BaseModel):
    token: str
    username: str
    role: str
    seat_id: str | None
    expires_in_s: int


class Me(BaseModel):
    user_id: int
    username: str
    role: str
    seat_id: str | None


class Ok(BaseModel):
    ok: bool = True
    detail: str = ""


# --- seats ------------------------------------------------------------------------------
class PauseIn(Strict):
    reason: PauseReason


class SeatStateOut(BaseModel):
    seat_id: str
    city: str | None
    state: str
    reason: str | None
    skills: dict[str, int]
    call_id: str | None
    since_ms: int


class CallOut(BaseModel):
    call_id: str
    city: str
    caller_num: str
    skill: str | None
    state: str | None = None  # live: waiting | ringing | talking
    entered_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    seat_id: str | None = None
    answer_city: str | None = None
    overflowed: bool = False
    outcome: str | None = None


class TicketOut(BaseModel):
    id: int
    number: str | None
    call_id: str
    category: str
    request_type: str
    summary: str
    status: str
    accepted_at: datetime
    due_at: datetime


class DraftOut(BaseModel):
    call_id: str
    draft: dict[str, Any]
    labelled: list[tuple[str, str]]
    source: str
    updated_at: datetime


class TransferOut(BaseModel):
    """A department brought into the call (conference) or the call handed over (blind).
    result: connected, noanswer, busy, failed; None while the department rings."""

    id: int
    kind: str
    department_id: int | None
    number: str
    seat_id: str
    stay: bool
    result: str | None
    requested_at: datetime
    answered_at: datetime | None
    seat_left_at: datetime | None
    ended_at: datetime | None


class CurrentCallOut(BaseModel):
    seat: SeatStateOut | None
    call: CallOut | None
    earlier_calls: list[CallOut]
    tickets: list[TicketOut]
    draft: DraftOut | None
    ticket: TicketOut | None  # already confirmed for this call
    transfers: list[TransferOut] = Field(default_factory=list)  # of this call, oldest first


class TicketIn(Strict):
    """The draft as the seat confirmed (and maybe corrected) it."""

    category: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    request_type: Annotated[str, StringConstraints(min_length=1, max_length=16)]
    summary: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    location: Annotated[str, StringConstraints(max_length=200)] | None = None
    urgent: bool = False
    department: Annotated[str, StringConstraints(max_length=100)] | None = None
    tier_days: int = Field(ge=1, le=60)


class TargetIn(Strict):
    department_id: int | None = Field(None, ge=1, le=2_147_483_647)
    number: PhoneNumber | None = None

    @model_validator(mode="after")
    def _one(self) -> TargetIn:
        if (self.department_id is None) == (self.number is None):
            raise ValueError("give exactly one of department_id or number")
        return self


class ConferenceIn(TargetIn):
    stay: bool = True  # the seat stays in the three-way call


class CommandOut(BaseModel):
    ok: bool
    command_id: str
    detail: str
    fields: dict[str, str]


# --- dispatcher -------------------------------------------------------------------------
class OverflowIn(Strict):
    enabled: bool


class OverflowOut(BaseModel):
    city: str
    enabled: bool
    helpers: list[str]
    rule: dict[str, float | None]


class SkillsIn(Strict):
    skills: dict[Skill, Annotated[int, Field(ge=1, le=9)]] = Field(min_length=1)


class SpyIn(Strict):
    seat_id: SeatId
    mode: Literal["listen", "whisper", "barge"]
    supervisor: SeatId | None = None  # default: the dispatcher's own softphone


class CallbackOut(BaseModel):
    id: int
    number: str
    city: str
    skill: str
    source: str
    call_id: str | None
    waited_s: float
    created_at: datetime
    status: str
    attempts: int
    # The latest finished attempt: its outcome and what the dispatcher reads (e.g.
    # seat_unreachable / 无法呼叫：坐席话机未注册); None before the first attempt ends.
    last_outcome: str | None = None
    last_outcome_label: str | None = None


class WaitingOut(BaseModel):
    call_id: str
    waited_s: float
    priority: int


class CityOut(BaseModel):
    city: str
    label: str
    queues: dict[str, list[WaitingOut]]  # skill -> waiting callers, head first
    overflow: OverflowOut
    link: dict[str, str]
    stats: dict[str, Any]  # skill -> acd.stats.Snapshot
    seats: list[SeatStateOut]


class MinuteOut(BaseModel):
    minute: str
    offered: int
    answered: int
    abandoned: int


# --- QA ---------------------------------------------------------------------------------
class RecordingOut(BaseModel):
    id: int
    call_id: str
    attempt: int
    speaker: str
    format: str
    duration_s: float
    started_at: datetime
    seat_id: str | None


class SegmentOut(BaseModel):
    speaker: str
    start_s: float
    end_s: float
    text: str
    confidence: float


class TranscriptOut(BaseModel):
    recording_id: int
    call_id: str
    speaker: str
    text: str
    segments: list[SegmentOut]


class RubricItem(Strict):
    key: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    label: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    max: int = Field(ge=1, le=100)


class RubricIn(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    items: list[RubricItem] = Field(min_length=1, max_length=50)


class RubricOut(BaseModel):
    id: int
    name: str
    items: list[dict[str, Any]]


class ScoreIn(Strict):
    rubric_id: int = Field(ge=1, le=2_147_483_647)
    scores: dict[
        Annotated[str, StringConstraints(max_length=32)], Annotated[int, Field(ge=0, le=1000)]
    ]
    remark: Annotated[str, StringConstraints(max_length=2000)] = ""


class ScoreOut(BaseModel):
    id: int
    call_id: str
    rubric_id: int
    reviewer: str
    scores: dict[str, int]
    total: int
    max_total: int
    remark: str
    created_at: datetime


class CommentIn(Strict):
    text: Text
    at_s: float | None = Field(None, ge=0, le=24 * 3600)


class CommentOut(BaseModel):
    id: int
    call_id: str
    author: str
    at_s: float | None
    text: str
    created_at: datetime


class QaCallOut(BaseModel):
    call: CallOut
    recordings: list[RecordingOut]
    scores: list[ScoreOut]
    comments: list[CommentOut]
    transfers: list[TransferOut] = Field(default_factory=list)


# --- admin ------------------------------------------------------------------------------
class UserIn(Strict):
    username: Username
    password: Password
    role: Role
    seat_id: SeatId | None = None
    display_name: Annotated[str, StringConstraints(max_length=64)] = ""


class UserPatch(Strict):
    role: Role | None = None
    seat_id: SeatId | None = None
    active: bool | None = None
    password: Password | None = None
    display_name: Annotated[str, StringConstraints(max_length=64)] | None = None


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    seat_id: str | None
    active: bool


class SeatProfileIn(Strict):
    city: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    skills: dict[Skill, Annotated[int, Field(ge=1, le=9)]] = Field(min_length=1)
    endpoint: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]+/[A-Za-z0-9_@.\-]{1,60}$")]


class SeatProfileOut(BaseModel):
    seat_id: str
    city: str
    skills: dict[str, int]
    endpoint: str


class RuleIn(Strict):
    wait_s: float | None = Field(None, ge=0, le=3600)
    ewt_s: float | None = Field(None, ge=0, le=24 * 3600)
    callers_per_ready: float | None = Field(None, ge=0, le=1000)
    all_cities_wait_s: float | None = Field(None, ge=0, le=3600)


class DepartmentIn(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    number: PhoneNumber
    duty_hours: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    categories: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=100
    )


class DepartmentOut(BaseModel):
    id: int
    name: str
    number: str
    duty_hours: str
    categories: list[str]


class AuditOut(BaseModel):
    id: int
    at: datetime
    username: str
    action: str
    target: str
    call_id: str | None
    detail: str


SeatIdPath = Path(pattern=r"^[A-Za-z0-9]{1,32}$")
MAX_ID = 2_147_483_647  # a 32-bit row id on every backend: larger ones are a clear 422
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
