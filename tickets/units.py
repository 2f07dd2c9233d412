"""The unit directory (承办单位): levels 市 → 县区 → 乡镇街道 with parent links."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.models import Unit, UnitMember

UNITS_FILE = Path(__file__).resolve().parent / "data" / "units.yaml"
LEVELS = ("市", "县区", "乡镇街道")


class UnitDirectoryError(ValueError):
    """The unit file is unreadable, or an entry is malformed or names an unknown parent."""


@dataclass(frozen=True)
class UnitInfo:
    name: str
    level: str
    parent: str | None = None


def _entry(raw: object, where: str) -> UnitInfo:
    if not isinstance(raw, dict):
        raise UnitDirectoryError(f"{where}: expected a mapping with name and level")
    name, level, parent = raw.get("name"), raw.get("level"), raw.get("parent")
    if not isinstance(name, str) or not name.strip() or any(c in name for c in "\r\n"):
        raise UnitDirectoryError(f"{where}: name must be one line of text")
    if level not in LEVELS:
        raise UnitDirectoryError(f"{where}: level must be one of {', '.join(LEVELS)}")
    if parent is not None and not isinstance(parent, str):
        raise UnitDirectoryError(f"{where}: parent must be a unit name")
    return UnitInfo(name.strip(), level, parent)


def load_units(path: Path = UNITS_FILE) -> list[UnitInfo]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UnitDirectoryError(f"cannot read unit file {path}: {exc}") from None
    if not isinstance(data, list):
        raise UnitDirectoryError(f"{path}: expected a list of units")
    units = [_entry(raw, f"{path} entry {i}") for i, raw in enumerate(data, start=1)]
    names = {u.name for u in units}
    for u in units:
        if u.parent is not None and u.parent not in names:
            raise UnitDirectoryError(f"{path}: {u.name}: unknown parent {u.parent}")
        if u.parent is None and u.level == "乡镇街道":
            raise UnitDirectoryError(f"{path}: {u.name}: a street or township needs a parent")
    return units


async def seed_units(session: AsyncSession, entries: Sequence[UnitInfo]) -> dict[str, int]:
    """Insert or update units by name (parents before children); returns name → id."""
    existing = {u.name: u for u in (await session.scalars(select(Unit))).all()}
    for e in entries:
        row = existing.get(e.name) or Unit(name=e.name, level=e.level)
        row.level = e.level
        session.add(row)
        existing[e.name] = row
    await session.flush()
    for e in entries:
        existing[e.name].parent_id = existing[e.parent].id if e.parent else None
    await session.commit()
    return {name: row.id for name, row in existing.items()}


async def all_units(session: AsyncSession) -> list[Unit]:
    return list((await session.scalars(select(Unit).order_by(Unit.id))).all())


async def unit_of_user(session: AsyncSession, user_id: int) -> int | None:
    return await session.scalar(select(UnitMember.unit_id).where(UnitMember.user_id == user_id))


async def unit_id_of(session: AsyncSession, unit_name: str) -> int | None:
    return await session.scalar(select(Unit.id).where(Unit.name == unit_name))


async def set_member(session: AsyncSession, user_id: int, unit_name: str) -> int:
    """Make an account act for a unit (by name); returns the unit's id."""
    unit_id = await unit_id_of(session, unit_name)
    if unit_id is None:
        raise UnitDirectoryError(f"no unit named {unit_name!r}")
    row = await session.get(UnitMember, user_id) or UnitMember(user_id=user_id, unit_id=unit_id)
    row.unit_id = unit_id
    session.add(row)
    await session.commit()
    return unit_id
