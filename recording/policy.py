"""Recording policy: where MixMonitor writes a call's files and which files a call has.

The dialplan runs ``MixMonitor(${HL_REC}.wav,r(${HL_REC}-in.wav)t(${HL_REC}-out.wav))``:
``r()`` is what the recorded (caller's) channel reads, i.e. what the caller said; ``t()`` is
what is written to it, i.e. what the seat said (fixture mixmonitor_per_speaker). HL_REC is
``<root>/<YYYY>/<MM>/<DD>/<call id>-<attempt>``: one directory per day (of the call's arrival,
UTC) keeps directories small and makes retention a walk over old days; one base per seat
attempt, because MixMonitor would overwrite a file of the same name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Literal

Speaker = Literal["mixed", "caller", "seat"]
SPEAKERS: tuple[Speaker, ...] = ("caller", "seat", "mixed")
# Suffix after the base, per speaker (the order of the dialplan's MixMonitor arguments).
SUFFIX: dict[Speaker, str] = {"mixed": ".wav", "caller": "-in.wav", "seat": "-out.wav"}
# A Linkedid looks like 1795350146.145; other characters could walk out of the directory.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]|\.\.")


def safe_name(call_id: str) -> str:
    """The call id as a file name: a Linkedid passes unchanged; anything that could leave the
    directory (``/``, ``..``) or upset a shell is replaced, so naming never fails a call."""
    name = _UNSAFE.sub("_", call_id)[:64].lstrip(".") or "call"
    return name


def day_dir(root: str | Path, at: datetime) -> PurePosixPath:
    day = at.astimezone(UTC)
    return PurePosixPath(str(root)) / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"


def base_path(root: str | Path, call_id: str, attempt: int, at: datetime) -> str:
    """HL_REC for one seat attempt of a call that arrived at ``at``."""
    return f"{day_dir(root, at)}/{safe_name(call_id)}-{max(attempt, 1)}"


def speaker_files(base: str | Path) -> dict[Speaker, Path]:
    return {s: Path(f"{base}{SUFFIX[s]}") for s in SPEAKERS}


@dataclass(frozen=True)
class Found:
    attempt: int
    speaker: Speaker
    path: Path


def attempts_on_disk(root: str | Path, call_id: str, at: datetime) -> list[Found]:
    """Every file MixMonitor wrote for the call, any attempt, ordered by attempt."""
    directory = Path(str(day_dir(root, at)))
    prefix = safe_name(call_id) + "-"
    pattern = re.compile(re.escape(prefix) + r"(\d+)(-in|-out)?\.wav$")
    found: list[Found] = []
    if not directory.is_dir():
        return found
    for path in directory.iterdir():
        match = pattern.match(path.name)
        if match is None:
            continue
        speaker: Speaker = {"-in": "caller", "-out": "seat"}.get(match.group(2) or "", "mixed")  # type: ignore[assignment]
        found.append(Found(int(match.group(1)), speaker, path))
    return sorted(found, key=lambda f: (f.attempt, SPEAKERS.index(f.speaker)))
