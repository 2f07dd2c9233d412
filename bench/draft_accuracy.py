"""Draft builder accuracy per field on a held-out set: `python -m bench.draft_accuracy [FILE]`.

Prints category / department / location / urgent / emotion accuracy and every miss. It only
measures (default: tests/data/drafts/heldout_new_user.yaml); rules are never tuned on it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from asr.draft import DirectoryEntry, DraftBuilder, parse_transcript
from tickets.departments import load_departments

DEFAULT = Path(__file__).resolve().parents[1] / "tests/data/drafts/heldout_new_user.yaml"


def _location_ok(got: str | None, want: str | None) -> bool:
    if want is None or got is None:
        return got == want
    return want in got and len(got) <= len(want) + 4  # the place, not the rest of the sentence


def measure(path: Path) -> tuple[dict[str, float], list[str]]:
    cases: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))
    directory = [
        DirectoryEntry(d.name, d.number, d.duty_hours, d.categories) for d in load_departments()
    ]
    builder = DraftBuilder()
    right: dict[str, int] = {}
    misses: list[str] = []
    for case in cases:
        draft = builder.build(parse_transcript(case["text"], case["id"]), directory)
        got = {
            "category": draft.category,
            "department": draft.department,
            "location": draft.location,
            "urgent": draft.urgent,
            "emotion": draft.emotion,
            "tier": draft.tier_days,
        }
        for key, want in case["expect"].items():
            ok = _location_ok(draft.location, want) if key == "location" else got[key] == want
            right[key] = right.get(key, 0) + ok
            if not ok:
                misses.append(f"{case['id']}: {key} {got[key]!r} != {want!r}")
    return {k: v / len(cases) for k, v in right.items()}, misses


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    scores, misses = measure(path)
    print(f"{path.name}: " + ", ".join(f"{k} {v:.2f}" for k, v in scores.items()))
    for miss in misses:
        print("  miss", miss)


if __name__ == "__main__":
    main()
