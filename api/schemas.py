"""Request and response bodies. Requests are strict: unknown fields and bad values get a 422."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from acd.queue.types import PAUSE_REASONS, Skill

SeatId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,32}$")]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=200)]
# A number a seat may dial out to (department, citizen): digits, optional leading +.
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{3,20}$")]
Role = Literal["seat", "dispatcher", "qa", "qa_lead", "admin", "unit", "leader", "knowledge"]
PauseReason = Literal[PAUSE_REASONS]  # type: ignore[valid-type]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
CityName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
_DUTY = re.compile(r"^(\d{1,2}):([0-5]\d)-(\d{1,2}):([0-5]\d)$")


def duty_hours(value: str) -> str:
    """``08:30-17:30`` in the city's time (``9:00`` is read as ``09:00``; ``24:00`` ends the
    day), stored zero-padded so the transfer check reads it. Anything else is refused: the
    transfer check would count an unreadable entry as always on duty."""
    m = _DUTY.fullmatch(value.strip())
    if m is None:
        raise ValueError(f"值班时间 {value[:32]!r} 格式应为 08:30-17:30")
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    if h1 > 23 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValueError(f"值班时间 {value[:32]!r} 的时刻超出 00:00-24:00")
    return f"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}"


def one_line(value: str, what: str) -> str:
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise ValueError(f"{what}不能包含换行或控制字符")
    return value


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
    # Seconds of wrap-up left when this was read (None outside wrap-up): the page counts down.
    wrapup_left_s: float | None = None


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
    # A repeat caller: the mood of each earlier call with a draft, oldest first, then this one's.
    mood_trend: list[str] = Field(default_factory=list)


class PendingOut(BaseModel):
    """A call the seat answered that has no ticket yet (待确认工单), with its draft once the
    transcript has been turned into one (None while the ASR is still at work)."""

    call: CallOut
    draft: DraftOut | None


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
    reason: str | None = None  # why it was closed without dialling (outbound policy)
    # The latest finished attempt: its outcome and what the dispatcher reads (e.g.
    # seat_unreachable / 无法呼叫：坐席话机未注册); None before the first attempt ends.
    last_outcome: str | None = None
    last_outcome_label: str | None = None


class WaitingOut(BaseModel):
    call_id: str
    waited_s: float
    priority: int


class TodayOut(BaseModel):
    """Today's totals over every skill of a city (the wallboard's figures)."""

    offered: int
    answered: int
    abandoned: int
    abandon_rate: float | None  # abandoned / (answered + abandoned)
    asa_s: float | None
    aht_s: float | None


class CityOut(BaseModel):
    city: str
    label: str
    queues: dict[str, list[WaitingOut]]  # skill -> waiting callers, head first
    overflow: OverflowOut
    link: dict[str, str]
    stats: dict[str, Any]  # skill -> acd.stats.Snapshot
    seats: list[SeatStateOut]
    today: TodayOut | None = None
    now_ms: int = 0  # the server's clock, for the seats' time in state


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


class AudioTokenOut(BaseModel):
    """For ``<audio src>``: plays one recording for a few minutes, for the user who asked."""

    token: str
    expires_in_s: int
    url: str


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


ItemKey = Annotated[str, StringConstraints(max_length=32)]
ItemScores = dict[ItemKey, Annotated[int, Field(ge=0, le=1000)]]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ScoreIn(Strict):
    rubric_id: int = Field(ge=1, le=2_147_483_647)
    scores: ItemScores  # every item of the rubric: none is given a default
    remark: Annotated[str, StringConstraints(max_length=2000)] = ""
    item_remarks: dict[ItemKey, Annotated[str, StringConstraints(max_length=500)]] = Field(
        default_factory=dict, max_length=50
    )


class ScoreOut(BaseModel):
    id: int
    call_id: str
    rubric_id: int
    reviewer: str
    scores: dict[str, int]
    total: int
    max_total: int
    remark: str
    item_remarks: dict[str, str] = Field(default_factory=dict)
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


class AssignmentOut(BaseModel):
    id: int
    call_id: str
    seat_id: str | None
    reviewer: str
    assigned_by: str
    assigned_at: datetime
    status: str  # pending | done
    score_id: int | None
    done_at: datetime | None
    call: CallOut | None = None


class QaCallOut(BaseModel):
    call: CallOut
    recordings: list[RecordingOut]
    scores: list[ScoreOut]
    comments: list[CommentOut]
    transfers: list[TransferOut] = Field(default_factory=list)
    held: bool = False  # QA holds the recordings: retention keeps them
    assignment: AssignmentOut | None = None


class LineOut(BaseModel):
    speaker: str  # caller | seat | mixed
    start_s: float  # on the timeline of recording_id
    end_s: float
    text: str
    confidence: float


class CallTranscriptOut(BaseModel):
    call_id: str
    recording_id: int
    lines: list[LineOut]
    pending: list[str]  # speakers whose transcript is not there yet


class HoldIn(Strict):
    held: bool


class HoldOut(BaseModel):
    call_id: str
    held: bool
    recordings: int


class CityLabelOut(BaseModel):
    city: str
    label: str


class SampleIn(Strict):
    # Default: yesterday in the city's time zone.
    day: Annotated[date, Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))] | None = None
    percent: int = Field(ge=1, le=100)
    reviewers: list[Username] = Field(min_length=1, max_length=50)
    city: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")] | None = None


class SeatSampleOut(BaseModel):
    answered: int
    sampled: int


class SampleOut(BaseModel):
    day: date
    percent: int
    by_seat: dict[str, SeatSampleOut]
    assigned: list[AssignmentOut]


class AssignIn(Strict):
    call_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    reviewer: Username


class AssignmentPage(BaseModel):
    items: list[AssignmentOut]
    total: int
    limit: int
    offset: int


class AppealIn(Strict):
    reason: Note


class AppealOut(BaseModel):
    id: int
    score_id: int
    call_id: str
    seat_id: str
    appellant: str
    reason: str
    created_at: datetime
    status: str  # open | upheld | changed
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str
    old_scores: dict[str, int] | None
    old_total: int | None
    score: ScoreOut | None = None


class ResolveIn(Strict):
    decision: Literal["upheld", "changed"]
    note: Note
    scores: ItemScores | None = None  # the whole new score when changed


class AppealPage(BaseModel):
    items: list[AppealOut]
    total: int
    limit: int
    offset: int


class SeatScoreOut(BaseModel):
    score: ScoreOut
    labels: dict[str, str]  # item key -> label
    appeal: AppealOut | None


class SeatScorePage(BaseModel):
    items: list[SeatScoreOut]
    total: int
    limit: int
    offset: int


# --- admin ------------------------------------------------------------------------------
DisplayName = Annotated[
    str, StringConstraints(max_length=64), AfterValidator(lambda v: one_line(v, "显示名"))
]
# The cities a dispatcher may act on; empty: every city.
Cities = Annotated[list[CityName], Field(max_length=100)]


class UserIn(Strict):
    username: Username
    password: Password
    role: Role
    seat_id: SeatId | None = None
    display_name: DisplayName = ""
    cities: Cities = Field(default_factory=list)


class UserPatch(Strict):
    role: Role | None = None
    seat_id: SeatId | None = None
    active: bool | None = None
    password: Password | None = None
    display_name: DisplayName | None = None
    cities: Cities | None = None


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    seat_id: str | None
    active: bool
    cities: list[str] = Field(default_factory=list)


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
    duty_hours: Annotated[
        str, StringConstraints(min_length=1, max_length=32), AfterValidator(duty_hours)
    ]
    categories: list[
        Annotated[
            str,
            StringConstraints(min_length=1, max_length=64),
            AfterValidator(lambda v: one_line(v, "类别")),
        ]
    ] = Field(default_factory=list, max_length=100)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        one_line(value, "部门名称")
        if not value.strip():
            raise ValueError("部门名称不能为空白")
        return value


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
