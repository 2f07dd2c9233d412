"""AMI framing: bytes in, whole messages out.

Bytes are buffered until a blank line ends a message and only then decoded, so a UTF-8
character split across two TCP reads (common with Chinese caller names) comes out whole.
Nothing here raises on bad input: problems are counted and reported through ``on_problem``
and the stream carries on at the next message boundary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from pbx.message import Message, parse_block

log = logging.getLogger(__name__)

BANNER_PREFIX = b"Asterisk Call Manager/"
# Asterisk builds each event in a growable buffer; the largest seen in real traffic is a few
# KiB (a LocalBridge with long caller names). Anything this big without a blank line is a
# broken stream, and holding it forever would be a memory leak.
MAX_MESSAGE_BYTES = 256 * 1024


@dataclass
class FramerStats:
    messages: int = 0
    malformed_lines: int = 0
    undecodable: int = 0
    oversized: int = 0
    problems: list[str] = field(default_factory=list)

    def note(self, problem: str) -> None:
        # Keep a bounded sample for diagnostics; the counters carry the totals.
        if len(self.problems) < 100:
            self.problems.append(problem)


class AmiFramer:
    """Turns a byte stream from Asterisk into parsed messages, one call to ``feed`` per read."""

    def __init__(
        self,
        on_problem: Callable[[str], None] | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self._buf = bytearray()
        self._banner_pending = True
        self.banner: str | None = None
        self.stats = FramerStats()
        self._on_problem = on_problem
        self._max = max_message_bytes

    def reset(self) -> None:
        """A new connection: forget partial data and expect a banner again."""
        self._buf.clear()
        self._banner_pending = True

    def _problem(self, text: str) -> None:
        self.stats.note(text)
        if self._on_problem is not None:
            self._on_problem(text)
        else:
            log.warning("ami framing: %s", text)

    def _take_banner(self) -> bool:
        """Consume the banner line if it is complete; False while more bytes are needed."""
        buf = self._buf
        if len(buf) < len(BANNER_PREFIX) and BANNER_PREFIX.startswith(bytes(buf)):
            return False
        self._banner_pending = False
        if not buf.startswith(BANNER_PREFIX):
            return True  # attached to a stream that is already going: no banner to read
        end = buf.find(b"\n")
        if end == -1:
            return False
        self.banner = buf[:end].decode("utf-8", "replace").rstrip("\r")
        del buf[: end + 1]
        return True

    def feed(self, data: bytes) -> list[Message]:
        buf = self._buf
        buf += data
        if self._banner_pending and not self._take_banner():
            return []
        if b"\n\n" not in buf and b"\n\r\n" not in buf:
            self._check_size()
            return []
        # One split per read: Asterisk ends lines with CRLF; LF-only streams (hand-made
        # captures, some proxies) are accepted too, and so is a mix of both.
        whole = bytes(buf).replace(b"\r\n", b"\n")
        cut = whole.rfind(b"\n\n")
        # The unfinished message stays buffered (as LF; CR is never needed again).
        self._buf = bytearray(whole[cut + 2 :].lstrip(b"\n"))
        out: list[Message] = []
        try:
            # Everything before the last blank line is whole messages: one decode for all.
            parts: list[str] | list[bytes] = whole[:cut].decode("utf-8").split("\n\n")
        except UnicodeDecodeError:
            parts = whole[:cut].split(b"\n\n")
        for part in parts:
            if part:
                self._emit(part, out)
        self._check_size()
        return out

    def _check_size(self) -> None:
        if len(self._buf) > self._max:
            self.stats.oversized += 1
            self._problem(f"dropped {len(self._buf)} bytes with no message end (over {self._max})")
            self._buf.clear()

    def _emit(self, raw: str | bytes, out: list[Message]) -> None:
        if isinstance(raw, bytes):
            raw = raw.lstrip(b"\n")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.stats.undecodable += 1
                self._problem(f"invalid UTF-8 at byte {exc.start} of a message; replaced")
                text = raw.decode("utf-8", "replace")
        else:
            text = raw.lstrip("\n")
        if not text:
            return
        messages, bad_lines = parse_block(text)
        for line in bad_lines:
            self.stats.malformed_lines += 1
            self._problem(f"malformed line skipped: {line[:80]!r}")
        self.stats.messages += len(messages)
        out.extend(messages)
