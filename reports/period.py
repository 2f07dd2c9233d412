"""The ISO week a report covers, in the city's time zone, as a UTC interval."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


class BadWeek(ValueError):
    """A week label that is not YYYY-Www or names no such week."""


@dataclass(frozen=True, slots=True)
class Week:
    label: str  # 2026-W48
    start: datetime  # Monday 00:00 local, in UTC
    end: datetime  # the next Monday 00:00 local, in UTC
    tz: str

    @property
    def first_day(self) -> date:
        return date.fromisocalendar(*_parts(self.label), 1)

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=6)

    def shifted(self, weeks: int) -> Week:
        monday = self.first_day + timedelta(weeks=weeks)
        year, number, _ = monday.isocalendar()
        return week_of(f"{year}-W{number:02d}", self.tz)

    @property
    def utc_offset_s(self) -> int:
        """The zone's offset during the week; exact for zones without summer time (China)."""
        offset = self.start.astimezone(ZoneInfo(self.tz)).utcoffset()
        return int(offset.total_seconds()) if offset else 0


def _parts(label: str) -> tuple[int, int]:
    found = WEEK_RE.match(label)
    if found is None:
        raise BadWeek(f"week {label!r}: expected YYYY-Www, e.g. 2026-W48")
    return int(found.group(1)), int(found.group(2))


def week_of(label: str, tz: str = "Asia/Shanghai") -> Week:
    year, number = _parts(label)
    try:
        monday = date.fromisocalendar(year, number, 1)
    except ValueError:
        raise BadWeek(f"week {label!r}: {year} has no week {number}") from None
    zone = ZoneInfo(tz)
    start = datetime.combine(monday, time(), zone).astimezone(UTC)
    end = datetime.combine(monday + timedelta(days=7), time(), zone).astimezone(UTC)
    return Week(label=f"{year}-W{number:02d}", start=start, end=end, tz=tz)


def last_full_week(now: datetime, tz: str = "Asia/Shanghai") -> Week:
    """The latest week that has ended by `now` (local time)."""
    local = now.astimezone(ZoneInfo(tz)).date() - timedelta(days=7)
    year, number, _ = local.isocalendar()
    return week_of(f"{year}-W{number:02d}", tz)
