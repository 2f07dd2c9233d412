"""Photos sent with a message: JPEG or PNG by their bytes (not by what the client says), a few
of them, each under a size cap, written under the data dir with names of our own."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from intake.service import IntakeError
from store import files, filetypes

MAX_PHOTOS = 3
MAX_PHOTO_BYTES = 2 * 1024 * 1024
_KINDS = (filetypes.JPEG, filetypes.PNG)


def kind_of(data: bytes) -> str:
    kind = filetypes.signature(data)
    if kind is None or kind not in _KINDS:
        raise IntakeError("照片须为 JPEG 或 PNG 格式")
    return kind.ext


def check(photos: Sequence[bytes]) -> list[str]:
    """The extension of each photo; IntakeError for too many, too large or not an image."""
    if len(photos) > MAX_PHOTOS:
        raise IntakeError(f"最多上传 {MAX_PHOTOS} 张照片")
    for i, data in enumerate(photos, 1):
        if len(data) > MAX_PHOTO_BYTES:
            raise IntakeError(f"第 {i} 张照片超过 {MAX_PHOTO_BYTES // 1024 // 1024} MB")
    return [kind_of(p) for p in photos]


def store(root: Path, photos: Sequence[bytes], now: datetime) -> list[str]:
    """Write checked photos under ``root``; their paths relative to it."""
    exts = check(photos)
    return [
        files.write_new(root, "intake", data, ext, now)
        for data, ext in zip(photos, exts, strict=True)
    ]
