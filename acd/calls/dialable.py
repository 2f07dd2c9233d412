"""Which numbers the hotline may dial out to: the toll-fraud guard.

A number typed by a seat (三方通话, 转接) or a caller id read from the network (漏话回拨)
reaches the carrier only when it matches one of the allowed patterns; department numbers
from the directory are trusted (the admin entered them). The default patterns are domestic:
Chinese mobiles and fixed lines with area code. International (00...), premium and short
service numbers (95xxx, 96xxx, 1xxxx) are refused unless a pattern lists them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from store.errors import Invalid

DEFAULT_ALLOW = (
    r"1[3-9]\d{9}",  # mobile
    r"0[1-9]\d{9,10}",  # fixed line with area code (never 00: international)
)
_SEPARATORS = re.compile(r"[\s\-()]")


class NotDialable(Invalid):
    """A number the outbound policy refuses; the message says why, in Chinese."""


def normalize(number: str) -> str:
    """Digits as they would be dialled: spaces, dashes and brackets dropped; +86 and 0086
    (China's own country code) become the domestic form."""
    digits = _SEPARATORS.sub("", number)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            rest = digits[len(prefix) :]
            # A mobile keeps its 11 digits; a fixed line gets back its trunk 0.
            return rest if rest.startswith("1") else "0" + rest
    return digits


@dataclass(frozen=True)
class OutboundPolicy:
    allow: tuple[str, ...] = DEFAULT_ALLOW
    _compiled: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", compile_patterns(self.allow))

    def check(self, number: str, trusted: Iterable[str] = ()) -> str:
        """The digits to dial, or NotDialable. ``trusted``: numbers from the directory."""
        digits = normalize(number)
        if not digits.isdigit() or not 3 <= len(digits) <= 20:
            raise NotDialable(f"号码 {_show(number)} 不是有效的电话号码")
        if digits in {normalize(t) for t in trusted}:
            return digits
        if any(p.fullmatch(digits) for p in self._compiled):
            return digits
        if digits.startswith("00"):
            raise NotDialable(f"号码 {_show(digits)} 是国际号码，不允许外呼")
        raise NotDialable(f"号码 {_show(digits)} 不在允许外呼的号码范围内")

    def reason(self, number: str) -> str | None:
        """None when the number may be dialled, else why not."""
        try:
            self.check(number)
        except NotDialable as exc:
            return str(exc)
        return None


def compile_patterns(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ValueError(
                f"outbound pattern {pattern!r} is not a regular expression: {exc}"
            ) from None
        if compiled[-1].fullmatch(""):
            raise ValueError(f"outbound pattern {pattern!r} matches an empty number")
    return tuple(compiled)


def _show(number: str) -> str:
    """Masked like every logged phone number: the middle digits hidden."""
    text = re.sub(r"[^\d+]", "", number)[:24]
    if len(text) <= 6:
        return text or "(空)"
    return text[:3] + "*" * (len(text) - 7) + text[-4:]
