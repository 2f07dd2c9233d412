"""The PBX's clock against ours: puts a stamped event's time on the controller's clock.

Every stamped message gives one sample, lag = received (our clock) - stamp (the PBX's):
the clocks' difference plus however long the message took to reach us (the network, a
controller busy elsewhere). The smallest lag seen is the best estimate of the difference
alone, so an event is placed at ``stamp + least lag``: when it happened, however late it was
read. The estimate starts again at every (re)connect (the PBX may have restarted, or its
clock been set), where the link sends a Ping, whose answer Asterisk always stamps.

A sample more than LIMIT_MS away is not believed: a PBX whose clock is minutes off has no
time sync, and a garbled stamp must not move every wait. Then events are placed at their
receive time, as without stamps.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

LIMIT_MS = 5 * 60 * 1000


class Skew:
    def __init__(self, name: str = "", limit_ms: int = LIMIT_MS) -> None:
        self.name = name  # for the log: whose PBX
        self.limit_ms = limit_ms
        # Our clock minus the PBX's, plus the quickest delivery seen; None: no sample yet.
        self.offset_ms: int | None = None
        self.refused = 0  # samples beyond the limit, since the last reset
        self.worst_lag_ms = 0  # the latest a stamped message was read, since the last reset

    def reset(self) -> None:
        self.offset_ms = None
        self.refused = 0
        self.worst_lag_ms = 0

    def observe(self, stamp_ms: int, received_ms: int) -> None:
        lag = received_ms - stamp_ms
        if abs(lag) > self.limit_ms:
            self.refused += 1
            if self.refused == 1:  # once per connection: each event would say the same
                log.warning(
                    "ami %s: the PBX's clock is %+.1f s from ours (more than %d s): its "
                    "stamps are not used until it is set right (NTP)",
                    self.name,
                    -lag / 1000,
                    self.limit_ms // 1000,
                )
            return
        if self.offset_ms is None or lag < self.offset_ms:
            self.offset_ms = lag
        self.worst_lag_ms = max(self.worst_lag_ms, lag - self.offset_ms)

    def local_ms(self, stamp_ms: int | None, received_ms: int) -> int:
        """When the event happened, on our clock: its stamp moved by the offset; its receive
        time when it has no stamp or the offset is not known."""
        if stamp_ms is None or self.offset_ms is None:
            return received_ms
        if abs(received_ms - stamp_ms) > self.limit_ms:
            # A stamp this far off is garbled (Asterisk drops a client that has not read
            # for writetimeout, seconds: no event is read minutes late).
            return received_ms
        # Never later than it was read (a clock set back since the offset was taken).
        return min(stamp_ms + self.offset_ms, received_ms)
