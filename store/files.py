"""Files the hotline keeps under its data dir: written under names of our own (never a
client's path), read back only from inside the directory they were written to."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path


def write_new(root: Path, area: str, data: bytes, ext: str, now: datetime) -> str:
    """Write ``data`` to ``root/area/<day>/<random>.<ext>``; the path relative to ``root``."""
    folder = Path(area) / f"{now:%Y%m%d}"
    (root / folder).mkdir(parents=True, exist_ok=True)
    rel = folder / f"{uuid.uuid4().hex}.{ext}"
    (root / rel).write_bytes(data)
    return rel.as_posix()


def inside(root: Path, rel: str) -> Path | None:
    """The file ``rel`` names, with every symlink resolved, if it is a file inside ``root``."""
    real = (root / rel).resolve()
    return real if real.is_file() and real.is_relative_to(root.resolve()) else None


def remove(root: Path, rels: list[str]) -> None:
    """Remove files written for a step that did not happen (missing ones are fine)."""
    for rel in rels:
        path = inside(root, rel)
        if path is not None:
            path.unlink(missing_ok=True)
