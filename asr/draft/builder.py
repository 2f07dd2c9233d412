"""Build a ticket draft from the caller's side of a transcript."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import jieba

from asr.draft.model import DirectoryEntry, Draft, EarlierCall, Utterance
from asr.draft.rules import Rules, load_rules

# (accepted_at, working_days) -> due time; the tickets area supplies the calendar-aware one.
Deadline = Callable[[datetime, int], datetime]
_SUMMARY_MAX = 40
_PLACE_MIN = 3
# Where one matter ends and the next may start ("……怎么补缴，还有医保卡丢了……").
_MATTERS = re.compile(r"[。！？?；;]|还有|另外|再一个|再就是")
_CLAUSE = re.compile(r"[，。！？,.!?；;]+")


class DraftBuilder:
    """Holds the rules and a jieba tokenizer with the custom dictionary (loaded once)."""

    def __init__(self, rules: Rules | None = None) -> None:
        self.rules = rules or load_rules()
        # jieba logs its dictionary loading at DEBUG to stderr; that is noise for the CLI.
        jieba.setLogLevel(logging.INFO)
        self._tok = jieba.Tokenizer()
        # A file object, because jieba leaves a path it opened itself unclosed.
        with self.rules.userdict.open("rb") as userdict:
            self._tok.load_userdict(userdict)
        # Keywords stay whole tokens, so single-character ones only match as words.
        for words in self.rules.categories.values():
            for word in words:
                self._tok.add_word(word, freq=2000)

    def tokens(self, text: str) -> set[str]:
        return {t for t in self._tok.lcut(text) if t.strip()}

    def _hits(self, words: Sequence[str], text: str, tokens: set[str]) -> list[str]:
        return [w for w in words if w in tokens or (len(w) > 1 and w in text)]

    def category(self, text: str, tokens: set[str]) -> str:
        best, best_score = self.rules.fallback_category, 0
        for name, words in self.rules.categories.items():
            score = sum(len(w) for w in self._hits(words, text, tokens))
            if score > best_score:
                best, best_score = name, score
        return best

    def request_type(self, text: str, tokens: set[str]) -> str:
        for kind in self.rules.type_order:
            if self._hits(self.rules.type_words.get(kind, ()), text, tokens):
                return kind
        return self.rules.type_default

    def emotion(self, text: str, tokens: set[str]) -> str:
        ranks = self.rules.emotion_ranks
        found = [
            e for e, words in self.rules.emotion_words.items() if self._hits(words, text, tokens)
        ]
        if not found:
            return self.rules.emotion_default
        # The most agitated emotion heard is the one staff must know about.
        return max(found, key=lambda e: ranks.get(e, 0))

    def direction(self, trend: Sequence[str]) -> str:
        if len(trend) < 2:
            return "首次"
        ranks = self.rules.emotion_ranks
        before, now = ranks.get(trend[-2], 1), ranks.get(trend[-1], 1)
        return "升级" if now > before else "缓和" if now < before else "持平"

    def location(self, text: str) -> str | None:
        # Spans of the caller's text, merged where they overlap or touch: two patterns that
        # both hit "丈八街道" give one place, not "丈八街丈八街道".
        spans: list[tuple[int, int]] = []
        for pattern in self.rules.location_patterns:
            for match in pattern.finditer(text):
                start = match.start() + self._cut(match.group(0))
                # Below three characters it is a bare word ("小区"), unless a number ("3楼").
                if match.end() - start >= _PLACE_MIN or text[start : start + 1].isdigit():
                    spans.append((start, match.end()))
        merged: list[tuple[int, int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return "".join(text[a:b] for a, b in merged) or None

    def requests(self, text: str) -> tuple[str, ...]:
        """Every matter of a call that raised more than one ("分类：原话"), in the order said;
        the draft's category stays the one the whole call weighs most."""
        found: dict[str, str] = {}
        for clause in _MATTERS.split(text):
            clause = clause.strip("，, ")
            if len(clause) < _PLACE_MIN:
                continue
            category = self.category(clause, self.tokens(clause))
            if category != self.rules.fallback_category and category not in found:
                found[category] = clause
        return tuple(f"{c}：{q}" for c, q in found.items()) if len(found) > 1 else ()

    def _cut(self, place: str) -> int:
        """How many leading characters are not the place ("我家住在幸福路" -> 4)."""
        cut = 0
        for word in self.rules.location_trim:
            at = place.rfind(word)
            if at >= 0:
                cut = max(cut, at + len(word))
        return cut

    def summary(self, caller: Sequence[str], category: str, location: str | None) -> str:
        keywords = self.rules.categories.get(category, ())
        clauses = [c for c in _CLAUSE.split("，".join(caller)) if c.strip()]
        at = next((i for i, c in enumerate(clauses) if any(w in c for w in keywords)), 0)
        key = "，".join(clauses[at : at + 2]).strip()
        if len(key) > _SUMMARY_MAX:
            key = key[: _SUMMARY_MAX - 1] + "…"
        return f"{location or '地点未说明'}｜{category}｜{key}"

    def department(
        self, category: str, directory: Sequence[DirectoryEntry]
    ) -> DirectoryEntry | None:
        exact = next((d for d in directory if category in d.categories), None)
        return exact or next((d for d in directory if "*" in d.categories), None)

    def tier(self, category: str, urgent: bool, text: str) -> tuple[int, str | None]:
        ent = self.rules.enterprise
        if category in ent.categories:
            difficult = any(w in text for w in ent.difficult_words)
            return (ent.difficult_days if difficult else ent.days), ent.desk
        return (self.rules.urgent_days if urgent else self.rules.default_days), None

    def build(
        self,
        transcript: Sequence[Utterance],
        directory: Sequence[DirectoryEntry] = (),
        earlier_emotions: Sequence[str] = (),
        earlier_calls: Sequence[EarlierCall] = (),
        now: datetime | None = None,
        deadline: Deadline | None = None,
    ) -> Draft:
        """Build the draft; with `now` and `deadline`, also the due time of its tier."""
        caller = [u.text for u in transcript if u.speaker == "caller" and u.text.strip()]
        if not caller:
            raise ValueError("the transcript has no caller utterance")
        text = "".join(caller)
        tokens = self.tokens(text)
        category = self.category(text, tokens)
        urgency = tuple(self._hits(self.rules.urgent_words, text, tokens))
        emotion = self.emotion(text, tokens)
        trend = (*earlier_emotions, emotion)
        location = self.location(text)
        dept = self.department(category, directory)
        days, desk = self.tier(category, bool(urgency), text)
        recent = _recent(earlier_calls, now, self.rules.repeat_window_days)
        requests = self.requests(text)
        hours = self.rules.urgent_hours if urgency else None
        due = deadline(now, days) if deadline is not None and now is not None else None
        if hours is not None and now is not None:
            due = now + timedelta(hours=hours)
        handover = [n for n, w in self.rules.handover.items() if self._hits(w, text, tokens)]
        flags = tuple(f for f, w in self.rules.flags.items() if self._hits(w, text, tokens))
        return Draft(
            category=category,
            request_type=self.request_type(text, tokens),
            summary=self.summary(caller, category, location),
            location=location,
            urgent=bool(urgency),
            urgency_words=urgency,
            emotion=emotion,
            emotion_trend=trend,
            emotion_direction=self.direction(trend),
            repeat_caller=bool(recent),
            repeat_same_issue=any(c.category == category for c in recent),
            department=dept.name if dept else None,
            department_number=dept.number if dept else None,
            desk=desk,
            tier_days=days,
            due_at=due,
            urgent_hours=hours,
            handover="；".join(handover) or None,
            flags=flags,
            requests=requests,
        )


def _recent(
    calls: Sequence[EarlierCall], now: datetime | None, window_days: int
) -> list[EarlierCall]:
    if now is None:
        return list(calls)
    since = now - timedelta(days=window_days)
    return [c for c in calls if since <= c.at <= now]
