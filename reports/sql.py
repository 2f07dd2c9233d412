"""The few expressions whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer, cast, func, literal_column
from sqlalchemy.sql.elements import ColumnElement


def seconds_between(dialect: str, later: Any, earlier: Any) -> ColumnElement[float]:
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return cast(func.extract("epoch", later - earlier), Float)


def _shifted_sqlite(column: Any, offset_s: int) -> Any:
    return func.datetime(column, f"{offset_s:+d} seconds")


def local_hour(dialect: str, column: Any, offset_s: int) -> ColumnElement[int]:
    """Hour of day (0-23) at a fixed UTC offset."""
    if dialect == "sqlite":
        return cast(func.strftime("%H", _shifted_sqlite(column, offset_s)), Integer)
    shifted = column + literal_column(f"interval '{int(offset_s)} seconds'")
    return cast(func.extract("hour", func.timezone("UTC", shifted)), Integer)


def local_weekday(dialect: str, column: Any, offset_s: int) -> ColumnElement[int]:
    """Day of the week at a fixed UTC offset, 0 = Monday .. 6 = Sunday."""
    if dialect == "sqlite":
        sunday_first = cast(func.strftime("%w", _shifted_sqlite(column, offset_s)), Integer)
        return (sunday_first + 6) % 7
    shifted = column + literal_column(f"interval '{int(offset_s)} seconds'")
    return cast(func.extract("isodow", func.timezone("UTC", shifted)), Integer) - 1


def ratio(part: int | None, whole: int | None) -> float | None:
    """part / whole, or None without a denominator (a figure that cannot be computed)."""
    return None if not whole else (part or 0) / whole
