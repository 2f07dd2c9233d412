"""The link's live read path on the real captures, unstamped and stamped side by side.

What each TCP read costs the controller: framing, the Timestamp of every message and the
skew (pbx.stamps, pbx.skew), placing each event on our clock, typing and tracking. The
stamped stream is the same bytes with ``Timestamp`` where manager.conf's
``timestampevents = yes`` puts it (after Privilege); the price of dating events by the
PBX's clock is the difference.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time

from bench.bench_ami import CHUNK, build_stream, ours_parse
from pbx.link import AmiLink, _Protocol

ROUNDS = 7  # the best of each: a shared machine's noise is larger than the difference
_PRIVILEGE = re.compile(rb"(\r\nPrivilege: [^\r]*\r\n)")


class _Transport(asyncio.Transport):
    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass


def stamped(stream: bytes) -> bytes:
    """Each event stamped a microsecond after the last, from now (a stream read as it comes)."""
    start = time.time()
    count = iter(range(1 << 40))

    def stamp(found: re.Match[bytes]) -> bytes:
        moment = start + next(count) / 1e6
        return found.group(1) + f"Timestamp: {moment:.6f}\r\n".encode()

    return _PRIVILEGE.sub(stamp, stream)


def live(chunks: list[bytes]) -> float:
    """Seconds for one link's protocol to read ``chunks`` (no socket: the reads themselves)."""
    link = AmiLink("bench", "127.0.0.1", 5038, "bench", "bench")  # never started
    protocol = _Protocol()
    protocol.connection_made(_Transport())
    protocol.factory = link._manager
    start = time.perf_counter()
    for chunk in chunks:
        protocol.data_received(chunk)
    return time.perf_counter() - start


def run() -> None:
    # The captures' own Ping answers are weeks old: the skew would say so once per link.
    logging.getLogger("pbx.skew").disabled = True
    plain, events = build_stream()
    stamp = stamped(plain)
    plain_chunks = [plain[i : i + CHUNK] for i in range(0, len(plain), CHUNK)]
    stamp_chunks = [stamp[i : i + CHUNK] for i in range(0, len(stamp), CHUNK)]
    rounds = []
    for _ in range(ROUNDS):  # interleaved: a machine busy at one moment weighs on both alike
        rounds.append(
            (
                live(plain_chunks),
                live(stamp_chunks),
                ours_parse(plain_chunks),
                ours_parse(stamp_chunks),
            )
        )
    unstamped, with_stamps, parse, parse_stamped = (min(r[i] for r in rounds) for i in range(4))
    print(f"BENCH ami_live_events_per_s {events / unstamped:.0f} events/s")
    print(f"BENCH ami_live_stamped_events_per_s {events / with_stamps:.0f} events/s")
    print(f"BENCH ami_live_stamped_cost {(with_stamps / unstamped - 1) * 100:.1f} %")
    # Of which framing the longer messages alone (one more header line each):
    print(f"BENCH ami_parse_stamped_cost {(parse_stamped / parse - 1) * 100:.1f} %")
