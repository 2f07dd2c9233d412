"""Drafts built per second from the hand-written corpus (tokenizer loaded once, outside timing)."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from asr.draft import DirectoryEntry, DraftBuilder, Utterance, parse_transcript
from tickets.departments import load_departments

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "drafts" / "transcripts.yaml"
ROUNDS = 20


def run() -> None:
    builder = DraftBuilder()
    directory = [
        DirectoryEntry(d.name, d.number, d.duty_hours, d.categories) for d in load_departments()
    ]
    cases = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
    calls: list[list[Utterance]] = [parse_transcript(c["text"], c["id"]) for c in cases]
    builder.build(calls[0], directory)  # warm-up: jieba builds its prefix dict lazily
    start = time.perf_counter()
    for _ in range(ROUNDS):
        for call in calls:
            builder.build(call, directory)
    elapsed = time.perf_counter() - start
    print(f"BENCH draft_per_s {ROUNDS * len(calls) / elapsed:.0f} drafts/s")


if __name__ == "__main__":
    run()
