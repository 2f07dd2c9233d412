"""When the PBX says an event happened: the ``Timestamp`` header of a stamped AMI message.

Asterisk adds ``Timestamp: <epoch seconds>.<microseconds>`` to every event when manager.conf
has ``timestampevents = yes`` (asterisk_conf/ sets it), and to every Ping answer regardless.
The parse is strict: a stamp that is not exactly that shape is no stamp at all (None), never
a guess, so a garbled header cannot move a caller's wait.
"""

from __future__ import annotations

import re

from pbx.message import Message

HEADER = "Timestamp"
# Seconds since the epoch (ten digits until 2286) and at most microseconds, as Asterisk
# prints them ("%ld.%06lu").
_STAMP = re.compile(r"([0-9]{1,11})(?:\.([0-9]{1,6}))?")


def parse_ms(text: str) -> int | None:
    """Epoch milliseconds of a Timestamp value; None when it is not one."""
    if len(text) == 17 and text[10] == "." and text.isascii():
        # Asterisk's own shape until 2286 (every tracked event: kept cheap).
        whole, fraction = text[:10], text[11:]
        if whole.isdigit() and fraction.isdigit():
            return int(whole) * 1000 + int(fraction) // 1000
        return None
    found = _STAMP.fullmatch(text.strip())
    if found is None:
        return None
    seconds, fraction = found.groups()
    micros = int((fraction or "").ljust(6, "0"))
    return int(seconds) * 1000 + micros // 1000


def stamp_ms(message: Message) -> int | None:
    """The PBX's time of ``message`` in epoch milliseconds; None when it carries no
    (well-formed) stamp."""
    text = message.headers.get(HEADER)
    return None if text is None else parse_ms(text)
