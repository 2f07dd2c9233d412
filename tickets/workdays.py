"""Working-day deadlines on the Chinese calendar (statutory holidays and 调休 make-up workdays).

Counting rule (one rule for every tier):
- The acceptance time is read in the city's time zone (Asia/Shanghai by default).
- An acceptance at or after close of business (17:30 local) counts as accepted the next day.
- A deadline of N working days falls at close of business of the Nth working day strictly
  after that (possibly shifted) acceptance day. So a call accepted on a holiday or a weekend
  starts counting from the next working day, and the acceptance day itself never counts.
- The result is returned in UTC, as it is stored.

Years the chinese-calendar package covers come from it; other years come from a holiday file
(YAML: {year: {holidays: [dates], workdays: [dates]}}, ``HOTLINE_HOLIDAYS_FILE``), with a
warning that they do. A year in neither counts Monday to Friday, with a warning once per year
that deadlines may then fall on a holiday: a ticket must still be accepted on 1 January of a
year whose holidays the State Council has not yet announced (``strict`` refuses instead).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml

log = logging.getLogger(__name__)

CITY_TZ = ZoneInfo("Asia/Shanghai")
CLOSE_OF_BUSINESS = time(17, 30)
_MAX_SCAN_DAYS = 400


class CalendarError(ValueError):
    """A holiday file is malformed or a year is known to no source."""


@dataclass(frozen=True)
class YearOverride:
    holidays: frozenset[date]
    workdays: frozenset[date]


def _dates(raw: object, where: str) -> frozenset[date]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        raise CalendarError(f"{where}: expected a list of dates")
    out: set[date] = set()
    for item in raw:
        if isinstance(item, date) and not isinstance(item, datetime):
            out.add(item)
        elif isinstance(item, str):
            try:
                out.add(date.fromisoformat(item))
            except ValueError:
                raise CalendarError(f"{where}: {item!r} is not a YYYY-MM-DD date") from None
        else:
            raise CalendarError(f"{where}: {item!r} is not a date")
    return frozenset(out)


def load_holiday_file(path: Path) -> dict[int, YearOverride]:
    """Read a holiday file; every error names the file and the year."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise CalendarError(f"cannot read holiday file {path}: {exc}") from None
    if not isinstance(data, Mapping):
        raise CalendarError(f"{path}: expected a mapping of year -> holidays/workdays")
    out: dict[int, YearOverride] = {}
    for year, entry in data.items():
        if not isinstance(year, int) or not isinstance(entry, Mapping):
            raise CalendarError(f"{path}: year {year!r} needs a mapping with holidays/workdays")
        holidays = _dates(entry.get("holidays"), f"{path} {year} holidays")
        workdays = _dates(entry.get("workdays"), f"{path} {year} workdays")
        stray = [d for d in holidays | workdays if d.year != year]
        if stray:
            raise CalendarError(f"{path}: {sorted(stray)[0]} listed under year {year}")
        if holidays & workdays:
            raise CalendarError(f"{path}: {sorted(holidays & workdays)[0]} is both kinds")
        out[year] = YearOverride(holidays, workdays)
    return out


@dataclass
class WorkCalendar:
    """Answers whether a local date is a working day."""

    overrides: Mapping[int, YearOverride] = field(default_factory=dict)
    strict: bool = False  # a year known to no source raises CalendarError
    _warned: set[int] = field(default_factory=set)

    @classmethod
    def from_file(cls, path: Path | None, *, strict: bool = False) -> WorkCalendar:
        return cls(load_holiday_file(path) if path is not None else {}, strict=strict)

    def covers(self, day: date) -> bool:
        """Whether a source knows the day's year (else it is counted Monday to Friday)."""
        try:
            chinese_calendar.is_workday(day)
        except NotImplementedError:
            return day.year in self.overrides
        return True

    def is_workday(self, day: date) -> bool:
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            pass
        override = self.overrides.get(day.year)
        if override is None:
            if self.strict:
                raise CalendarError(
                    f"no holiday data for {day.year}: add it to the holiday file "
                    "(HOTLINE_HOLIDAYS_FILE: holidays, workdays)"
                )
            if day.year not in self._warned:
                self._warned.add(day.year)
                log.warning(
                    "no holiday data for %d: counting Monday to Friday, so a deadline may fall "
                    "on a holiday; add the year to the holiday file (HOTLINE_HOLIDAYS_FILE)",
                    day.year,
                )
            return day.weekday() < 5
        if day.year not in self._warned:
            self._warned.add(day.year)
            log.warning("year %d is not in chinese-calendar; using the holiday file", day.year)
        if day in override.workdays:
            return True
        if day in override.holidays:
            return False
        return day.weekday() < 5

    def next_workday(self, day: date) -> date:
        """The first working day strictly after `day`."""
        for step in range(1, _MAX_SCAN_DAYS):
            candidate = day + timedelta(days=step)
            if self.is_workday(candidate):
                return candidate
        raise CalendarError(f"no working day within {_MAX_SCAN_DAYS} days after {day}")


def due_at(
    accepted_at: datetime,
    working_days: int,
    calendar: WorkCalendar | None = None,
    tz: ZoneInfo = CITY_TZ,
) -> datetime:
    """Close of business of the Nth working day after acceptance, in UTC (see module doc)."""
    if accepted_at.tzinfo is None:
        raise ValueError("accepted_at must be timezone-aware")
    if working_days < 1:
        raise ValueError(f"working_days must be >= 1, got {working_days}")
    cal = calendar or WorkCalendar()
    local = accepted_at.astimezone(tz)
    day = local.date()
    if local.time() >= CLOSE_OF_BUSINESS:
        day += timedelta(days=1)
    for _ in range(working_days):
        day = cal.next_workday(day)
    return datetime.combine(day, CLOSE_OF_BUSINESS, tzinfo=tz).astimezone(UTC)
