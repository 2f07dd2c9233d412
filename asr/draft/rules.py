"""Rules and keyword lists of the draft builder, read from data files (never code)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"


class RulesError(ValueError):
    """A rules data file is missing or malformed."""


def _load(path: Path) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"cannot read rules file {path}: {exc}") from None
    if not isinstance(data, Mapping):
        raise RulesError(f"{path}: expected a mapping at the top level")
    return data


def _words(raw: object, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(w, str) and w for w in raw):
        raise RulesError(f"{where}: expected a list of non-empty strings")
    return tuple(raw)


def _word_map(raw: object, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        raise RulesError(f"{where}: expected a mapping of name -> words")
    return {str(k): _words(v, f"{where}.{k}") for k, v in raw.items()}


@dataclass(frozen=True)
class Enterprise:
    desk: str
    categories: frozenset[str]
    days: int
    difficult_days: int
    difficult_words: tuple[str, ...]


@dataclass(frozen=True)
class Rules:
    categories: dict[str, tuple[str, ...]]
    fallback_category: str
    type_order: tuple[str, ...]
    type_default: str
    type_words: dict[str, tuple[str, ...]]
    urgent_words: tuple[str, ...]
    emotion_default: str
    emotion_ranks: dict[str, int]
    emotion_words: dict[str, tuple[str, ...]]
    location_patterns: tuple[re.Pattern[str], ...]
    location_trim: tuple[str, ...]
    urgent_days: int
    default_days: int
    enterprise: Enterprise
    repeat_window_days: int
    urgent_hours: int
    handover: dict[str, tuple[str, ...]]  # note -> words
    flags: dict[str, tuple[str, ...]]  # flag -> words
    userdict: Path


def load_rules(data_dir: Path = DATA_DIR) -> Rules:
    tax = _load(data_dir / "taxonomy.yaml")
    types = _load(data_dir / "request_types.yaml")
    emo = _load(data_dir / "emotions.yaml")
    loc = _load(data_dir / "location.yaml")
    tiers = _load(data_dir / "tiers.yaml")
    ent = tiers.get("enterprise")
    if not isinstance(ent, Mapping):
        raise RulesError(f"{data_dir / 'tiers.yaml'}: missing enterprise section")
    try:
        patterns = tuple(re.compile(p) for p in _words(loc.get("patterns"), "location.patterns"))
    except re.error as exc:
        raise RulesError(f"location.yaml: bad pattern: {exc}") from None
    urgency = _load(data_dir / "urgency.yaml")
    return Rules(
        categories=_word_map(tax.get("categories"), "taxonomy.categories"),
        fallback_category=str(tax.get("fallback", "其他·综合")),
        type_order=_words(types.get("order"), "request_types.order"),
        type_default=str(types.get("default", "求助")),
        type_words=_word_map(types.get("keywords"), "request_types.keywords"),
        urgent_words=_words(urgency.get("urgent"), "urgency.urgent"),
        urgent_hours=int(urgency.get("hours", 2)),
        handover=_word_map(urgency.get("handover"), "urgency.handover"),
        flags=_word_map(urgency.get("flags"), "urgency.flags"),
        emotion_default=str(emo.get("default", "平稳")),
        emotion_ranks={str(k): int(v) for k, v in dict(emo.get("ranks", {})).items()},
        emotion_words=_word_map(emo.get("keywords"), "emotions.keywords"),
        location_patterns=patterns,
        location_trim=_words(loc.get("trim_after"), "location.trim_after"),
        urgent_days=int(tiers.get("urgent_days", 1)),
        default_days=int(tiers.get("default_days", 3)),
        enterprise=Enterprise(
            desk=str(ent["desk"]),
            categories=frozenset(_words(ent.get("categories"), "tiers.enterprise.categories")),
            days=int(ent.get("days", 1)),
            difficult_days=int(ent.get("difficult_days", 7)),
            difficult_words=_words(ent.get("difficult_words"), "tiers.enterprise.difficult_words"),
        ),
        repeat_window_days=int(tiers.get("repeat_window_days", 30)),
        userdict=data_dir / "userdict.txt",
    )
