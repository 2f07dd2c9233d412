"""The department directory (承办单位) seed file: used by drafts and by three-way transfers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

SEED_FILE = Path(__file__).resolve().parent / "data" / "departments.yaml"


class DirectoryError(ValueError):
    """The department file is unreadable or an entry lacks a field."""


@dataclass(frozen=True)
class DepartmentInfo:
    name: str
    number: str
    duty_hours: str
    categories: tuple[str, ...]


def load_departments(path: Path = SEED_FILE) -> list[DepartmentInfo]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DirectoryError(f"cannot read department file {path}: {exc}") from None
    if not isinstance(data, list):
        raise DirectoryError(f"{path}: expected a list of departments")
    out: list[DepartmentInfo] = []
    for index, entry in enumerate(data, start=1):
        try:
            cats = entry["categories"]
            if not isinstance(cats, list):
                raise TypeError("categories")
            out.append(
                DepartmentInfo(
                    str(entry["name"]),
                    str(entry["number"]),
                    str(entry["duty_hours"]),
                    tuple(str(c) for c in cats),
                )
            )
        except (KeyError, TypeError) as exc:
            raise DirectoryError(f"{path}: entry {index} lacks a valid {exc}") from None
    return out
