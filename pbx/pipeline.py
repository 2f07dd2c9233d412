"""Bytes or messages from Asterisk to high-level call events: the one path for live and replay."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pbx import callevents as ce
from pbx import events as ev
from pbx.framing import AmiFramer
from pbx.message import Message, MissingField
from pbx.skew import Skew
from pbx.stamps import stamp_ms
from pbx.tracker import TRACKED, CallTracker

log = logging.getLogger(__name__)

_RESYNC_ITEM = "CoreShowChannel"
_RESYNC_DONE = "CoreShowChannelsComplete"


class AmiPipeline:
    """Framing, parsing, typing and tracking, with the resync of a CoreShowChannels answer."""

    def __init__(
        self,
        tracker: CallTracker | None = None,
        on_problem: Callable[[str], None] | None = None,
        skew: Skew | None = None,
    ) -> None:
        self.tracker = tracker or CallTracker()
        self.skew = skew or Skew()  # fed by the live link's reads (pbx.link)
        self.framer = AmiFramer(on_problem=on_problem)
        self._on_problem = on_problem
        self._resync: list[ev.CoreShowChannel] | None = None
        self.bad_events = 0
        self.events_seen = 0

    def feed(self, data: bytes) -> list[ce.CallEvent]:
        out: list[ce.CallEvent] = []
        for message in self.framer.feed(data):
            out.extend(self.feed_message(message))
        return out

    def feed_message(self, message: Message, received_ms: int | None = None) -> list[ce.CallEvent]:
        """``received_ms``: when the live link read it (our clock); its event is then dated
        by its stamp put on our clock (``skew``), else by that moment. Without it (a replay)
        the event is dated by its own stamp, the PBX's clock, if it has one."""
        name = message.headers.get("Event")
        if name is None:
            return []
        self.events_seen += 1
        if name == _RESYNC_ITEM:
            return self._resync_item(message)
        if name == _RESYNC_DONE:
            return self._resync_done()
        if name not in TRACKED:
            return []
        try:
            event = ev.typed(message)
        except (MissingField, ValueError) as exc:
            self._bad(exc)
            return []
        stamp = stamp_ms(message)  # only here: most events are not tracked
        at_ms = stamp if received_ms is None else self.skew.local_ms(stamp, received_ms)
        return self.tracker.handle(event, at_ms)

    def _resync_item(self, message: Message) -> list[ce.CallEvent]:
        if self._resync is None:
            self._resync = []
        try:
            item = ev.typed(message)
        except (MissingField, ValueError) as exc:
            self._bad(exc)
            return []
        if isinstance(item, ev.CoreShowChannel):
            self._resync.append(item)
        return []

    def _resync_done(self) -> list[ce.CallEvent]:
        channels, self._resync = self._resync or [], None
        return self.tracker.resync(channels)

    def _bad(self, exc: Exception) -> None:
        self.bad_events += 1
        text = f"event skipped: {exc}"
        if self._on_problem is not None:
            self._on_problem(text)
        else:
            log.warning("ami: %s", text)
