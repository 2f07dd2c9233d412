"""The ticket draft and the inputs it is built from."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

Speaker = Literal["caller", "seat"]
# Staff read times in the city's time zone; stored and serialized times stay UTC.
DISPLAY_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Utterance:
    speaker: Speaker
    text: str


@dataclass(frozen=True)
class EarlierCall:
    """A previous call from the same number, as the caller history knows it."""

    at: datetime
    category: str | None = None


@dataclass(frozen=True)
class DirectoryEntry:
    """One department of the directory passed in (the tickets area owns the real one)."""

    name: str
    number: str
    duty_hours: str
    categories: tuple[str, ...]


# Labels staff read on the draft form, in field order.
LABELS: dict[str, str] = {
    "category": "分类",
    "request_type": "诉求类型",
    "summary": "概要",
    "location": "地点",
    "urgent": "紧急",
    "urgency_words": "紧急情形",
    "emotion": "来电情绪",
    "emotion_trend": "情绪走势",
    "emotion_direction": "情绪变化",
    "repeat_caller": "重复来电",
    "repeat_same_issue": "同一诉求重复",
    "department": "建议承办部门",
    "department_number": "部门电话",
    "desk": "受理专席",
    "tier_days": "办理时限（工作日）",
    "due_at": "办结期限",
    "urgent_hours": "紧急处置时限（小时）",
    "handover": "即时转接",
    "flags": "需关注",
    "requests": "诉求列表",
}


@dataclass(frozen=True)
class Draft:
    category: str
    request_type: str
    summary: str
    location: str | None
    urgent: bool
    urgency_words: tuple[str, ...]
    emotion: str
    emotion_trend: tuple[str, ...]
    emotion_direction: str
    repeat_caller: bool
    repeat_same_issue: bool
    department: str | None
    department_number: str | None
    desk: str | None
    tier_days: int
    due_at: datetime | None = None
    # Urgent: due in clock hours, not working days; what the seat hands over at once.
    urgent_hours: int | None = None
    handover: str | None = None
    flags: tuple[str, ...] = ()
    requests: tuple[str, ...] = ()  # more than one matter in the call: each of them

    def labelled(self) -> list[tuple[str, str]]:
        """(Chinese label, display value) pairs, in form order."""
        out: list[tuple[str, str]] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                shown = "是" if value else "否"
            elif isinstance(value, datetime):
                shown = value.astimezone(DISPLAY_TZ).strftime("%Y-%m-%d %H:%M")
            elif isinstance(value, tuple | list):  # a list: read back from stored JSON
                shown = " → ".join(value) if f.name == "emotion_trend" else "、".join(value)
            else:
                shown = "" if value is None else str(value)
            out.append((LABELS[f.name], shown))
        return out

    def to_json(self) -> str:
        data = asdict(self)
        data["due_at"] = self.due_at.isoformat() if self.due_at else None
        return json.dumps(data, ensure_ascii=False)
