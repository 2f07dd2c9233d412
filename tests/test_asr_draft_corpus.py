"""Accuracy of the draft builder on hand-written 12345 calls (tests/data/drafts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from asr.draft import DirectoryEntry, DraftBuilder, load_rules, parse_transcript
from tickets.departments import load_departments

CORPUS = Path(__file__).parent / "data" / "drafts" / "transcripts.yaml"
# Measured 1.00 on all three at the time of writing; the floor leaves room for rule edits.
ACCURACY_FLOOR = 0.95


@pytest.fixture(scope="module")
def builder() -> DraftBuilder:
    return DraftBuilder()


@pytest.fixture(scope="module")
def directory() -> list[DirectoryEntry]:
    return [
        DirectoryEntry(d.name, d.number, d.duty_hours, d.categories) for d in load_departments()
    ]


def _cases() -> list[dict[str, Any]]:
    data = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


def test_corpus_is_large_and_covers_the_taxonomy() -> None:
    cases = _cases()
    assert len(cases) >= 40
    leaves = set(load_rules().categories)
    assert len(leaves) >= 25
    covered = {c["expect"]["category"] for c in cases}
    assert leaves <= covered, leaves - covered


def test_every_leaf_has_a_department(directory: list[DirectoryEntry]) -> None:
    handled = {c for d in directory for c in d.categories}
    assert set(load_rules().categories) <= handled


def test_accuracy(builder: DraftBuilder, directory: list[DirectoryEntry]) -> None:
    cases = _cases()
    right = {"category": 0, "department": 0, "tier": 0}
    misses: list[str] = []
    for case in cases:
        draft = builder.build(parse_transcript(case["text"], case["id"]), directory)
        got = {"category": draft.category, "department": draft.department, "tier": draft.tier_days}
        for key, want in case["expect"].items():
            if got[key] == want:
                right[key] += 1
            else:
                misses.append(f"{case['id']}: {key} {got[key]} != {want}")
    scores = {k: v / len(cases) for k, v in right.items()}
    print(f"draft accuracy over {len(cases)} calls: {scores}")
    print("\n".join(misses))
    assert min(scores.values()) >= ACCURACY_FLOOR, misses


HELDOUT = Path(__file__).parent / "data" / "drafts" / "heldout.yaml"
# Measured on the held-out set when it was first run, rounded down; rules were not changed for it.
HELDOUT_FLOOR = 0.75


def test_heldout_accuracy(builder: DraftBuilder, directory: list[DirectoryEntry]) -> None:
    cases = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
    hits = 0
    for case in cases:
        draft = builder.build(parse_transcript(case["text"], case["id"]), directory)
        want = case["expect"]
        if (draft.category, draft.department, draft.tier_days) == (
            want["category"],
            want["department"],
            want["tier"],
        ):
            hits += 1
        else:
            print(f"held-out miss {case['id']}: {draft.category} {draft.tier_days}")
    print(f"held-out accuracy (all three right): {hits}/{len(cases)} = {hits / len(cases):.2f}")
    assert hits / len(cases) >= HELDOUT_FLOOR
