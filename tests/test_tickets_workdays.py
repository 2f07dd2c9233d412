"""Working-day deadlines checked against the official 2025/2026 holiday notices (国办发明电)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tickets.workdays import CalendarError, WorkCalendar, due_at, load_holiday_file

SH = ZoneInfo("Asia/Shanghai")


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def due_local(accepted: datetime, n: int, cal: WorkCalendar | None = None) -> datetime:
    result = due_at(accepted, n, cal)
    assert result.tzinfo is UTC
    return result.astimezone(SH)


def test_plain_weekday_counts_from_next_day() -> None:
    # Tuesday 2025-11-18 10:00 -> 1 day: Wed 17:30; 3 days: Fri 17:30.
    assert due_local(local(2025, 11, 18, 10), 1) == local(2025, 11, 19, 17, 30)
    assert due_local(local(2025, 11, 18, 10), 3) == local(2025, 11, 21, 17, 30)


def test_after_close_counts_as_next_day() -> None:
    assert due_local(local(2025, 11, 18, 17, 29), 1) == local(2025, 11, 19, 17, 30)
    assert due_local(local(2025, 11, 18, 17, 30), 1) == local(2025, 11, 20, 17, 30)


def test_friday_evening_skips_weekend() -> None:
    assert due_local(local(2025, 11, 21, 20), 1) == local(2025, 11, 24, 17, 30)


def test_guoqing_2025_with_makeup_days() -> None:
    # 2025: Oct 1-8 off; Sun Sep 28 and Sat Oct 11 are make-up workdays.
    assert due_local(local(2025, 9, 27, 9), 1) == local(2025, 9, 28, 17, 30)  # Sat -> Sun 调休
    assert due_local(local(2025, 9, 30, 9), 1) == local(2025, 10, 9, 17, 30)
    assert due_local(local(2025, 10, 3, 12), 1) == local(2025, 10, 9, 17, 30)
    assert due_local(local(2025, 10, 3, 12), 3) == local(2025, 10, 11, 17, 30)  # Sat 调休


def test_chunjie_2026_with_makeup_days() -> None:
    # 2026: Feb 15-23 off; Sat Feb 14 and Sat Feb 28 are make-up workdays.
    assert due_local(local(2026, 2, 13, 9), 1) == local(2026, 2, 14, 17, 30)
    assert due_local(local(2026, 2, 14, 9), 1) == local(2026, 2, 24, 17, 30)
    assert due_local(local(2026, 2, 17, 9), 3) == local(2026, 2, 26, 17, 30)
    assert due_local(local(2026, 2, 25, 9), 3) == local(2026, 2, 28, 17, 30)


def test_guoqing_2026_and_seven_day_limit() -> None:
    # 2026: Oct 1-7 off; Sun Sep 20 and Sat Oct 10 are make-up workdays.
    assert due_local(local(2026, 9, 19, 9), 1) == local(2026, 9, 20, 17, 30)
    assert due_local(local(2026, 9, 30, 9), 7) == local(2026, 10, 15, 17, 30)


def test_utc_input_is_read_in_city_time() -> None:
    # 09:40 UTC = 17:40 Shanghai: after close.
    assert due_local(datetime(2025, 11, 18, 9, 40, tzinfo=UTC), 1) == local(2025, 11, 20, 17, 30)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(datetime(2025, 11, 18, 10), 1)
    with pytest.raises(ValueError, match=">= 1"):
        due_at(local(2025, 11, 18, 10), 0)


def test_uncovered_year_uses_holiday_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text(
        "2030:\n  holidays: [2030-10-01, 2030-10-02, 2030-10-03, 2030-10-04, 2030-10-07]\n"
        "  workdays: [2030-10-12]\n",
        encoding="utf-8",
    )
    cal = WorkCalendar.from_file(path)
    with caplog.at_level(logging.WARNING):
        # Mon 2030-09-30 -> Oct 1-4 off, 5/6 weekend, 7 off -> Oct 8.
        assert due_local(local(2030, 9, 30, 9), 1, cal) == local(2030, 10, 8, 17, 30)
    assert "2030 is not in chinese-calendar" in caplog.text
    assert cal.is_workday(date(2030, 10, 12))
    assert cal.covers(date(2030, 1, 1)) and not cal.covers(date(2031, 1, 1))
    strict = WorkCalendar.from_file(path, strict=True)
    with pytest.raises(CalendarError, match="no holiday data for 2031"):
        strict.is_workday(date(2031, 1, 2))


def test_a_year_known_to_no_source_counts_weekdays_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A ticket accepted before a year's holidays are announced still gets a deadline."""
    cal = WorkCalendar()
    with caplog.at_level(logging.WARNING):
        # Thu 2031-01-02 + 3 working days, weekend skipped: Tue 2031-01-07.
        assert due_local(local(2031, 1, 2, 9), 3, cal) == local(2031, 1, 7, 17, 30)
        assert due_local(local(2031, 1, 9, 9), 1, cal) == local(2031, 1, 10, 17, 30)
    warnings = [r for r in caplog.records if "no holiday data for 2031" in r.getMessage()]
    assert len(warnings) == 1 and "HOTLINE_HOLIDAYS_FILE" in warnings[0].getMessage()
    assert not cal.covers(date(2031, 1, 2)) and cal.covers(date(2026, 1, 2))


def test_malformed_holiday_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("2030:\n  holidays: [2030-13-01]\n", encoding="utf-8")
    with pytest.raises(CalendarError, match=r"bad\.yaml"):
        load_holiday_file(path)
    path.write_text("2030:\n  holidays: [2031-01-01]\n", encoding="utf-8")
    with pytest.raises(CalendarError, match="listed under year 2030"):
        load_holiday_file(path)
    with pytest.raises(CalendarError, match="cannot read"):
        load_holiday_file(tmp_path / "missing.yaml")


def test_example_holiday_file_loads() -> None:
    example = Path(__file__).resolve().parents[1] / "config" / "holidays.example.yaml"
    assert date(2030, 10, 12) in load_holiday_file(example)[2030].workdays
