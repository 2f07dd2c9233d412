"""Phone numbers are personal data: logs and pages show them masked, one way everywhere."""

from __future__ import annotations


def mask_phone(number: str) -> str:
    """13800001234 -> 138****1234; short numbers keep at most their last four digits' worth
    of length hidden, so an extension or a short code never shows in full either."""
    if len(number) <= 4:
        return "*" * len(number)
    keep = max(1, min(3, len(number) - 7))
    return number[:keep] + "*" * (len(number) - keep - 4) + number[-4:]
