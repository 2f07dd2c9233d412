"""The ACD's vocabulary: seat states, skills, pause reasons, decisions, and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from store.errors import InvalidState, NotFound


class SeatState(StrEnum):
    offline = "offline"
    ready = "ready"
    paused = "paused"
    ringing = "ringing"
    busy = "busy"
    wrapup = "wrapup"


class Skill(StrEnum):
    general = "general"  # 民生诉求
    enterprise = "enterprise"  # 政企通
    foreign = "foreign"  # 外语
    callback = "callback"  # 漏话回拨


SKILL_LABELS = {
    Skill.general: "民生诉求",
    Skill.enterprise: "政企通",
    Skill.foreign: "外语",
    Skill.callback: "漏话回拨",
}

# What staff pick on the seat page; MISSED is set by the ACD after a ring went unanswered.
PAUSE_REASONS = ("小休", "培训", "会议", "就餐")
MISSED = "未接来电"
# Set by the callback runner when the seat's phone cannot be called at all (not registered).
UNREACHABLE = "话机未注册"


class SeatNotFound(NotFound):
    pass


class CallNotFound(NotFound):
    pass


class InvalidTransition(InvalidState):
    pass


@dataclass(frozen=True, slots=True)
class SeatSpec:
    seat_id: str
    city: str
    skills: dict[Skill, int]  # skill -> level (1 = can take it, higher = more expert)
    endpoint: str  # how the PBX dials it, e.g. PJSIP/1001

    def __post_init__(self) -> None:
        if not self.skills:
            raise ValueError(f"seat {self.seat_id}: at least one skill")
        if not self.seat_id.isalnum() or "," in self.city or ":" in self.city:
            raise ValueError(f"seat id {self.seat_id!r} must be letters and digits")


@dataclass(frozen=True, slots=True)
class SeatView:
    seat_id: str
    city: str
    state: SeatState
    reason: str | None
    skills: dict[Skill, int]
    endpoint: str
    call_id: str | None
    since_ms: int


@dataclass(frozen=True, slots=True)
class Decision:
    """A caller and the seat reserved for it; the controller now redirects the caller."""

    call_id: str
    seat_id: str
    seat_city: str
    caller_city: str
    skill: Skill
    endpoint: str
    dial_string: str  # the seat's endpoint, or through the inter-city trunk for a remote seat
    overflowed: bool
    ring: int  # 1 = own city, 2 = partner cities, 3 = every city
    ring_timeout_s: int
    seq: int


@dataclass(frozen=True, slots=True)
class Released:
    call_id: str
    seat_id: str
