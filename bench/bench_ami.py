"""AMI framing + parsing + tracking throughput, and the same bytes through panoramisk's parser."""

from __future__ import annotations

import re
import time
from collections import deque
from pathlib import Path

from panoramisk.ami_protocol import AMIProtocol

from pbx.framing import AmiFramer
from pbx.pipeline import AmiPipeline

CHUNK = 4096
MIN_EVENTS = 100_000


def _fixtures() -> Path:
    return Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ami"


def build_stream() -> tuple[bytes, int]:
    """Real captures repeated until >= MIN_EVENTS, each copy with its own ids (new calls)."""
    bodies = []
    for capture in sorted(_fixtures().glob("*.ami")):
        body = capture.read_bytes().split(b"\r\n", 1)[1]
        # Keep only whole messages: a capture may end mid-message.
        body = body[: body.rfind(b"\r\n\r\n") + 4]
        bodies.append(body)
    one = b"".join(bodies)
    per_copy = one.count(b"\r\nEvent: ") + one.startswith(b"Event: ")
    copies = -(-MIN_EVENTS // per_copy)
    ids = re.compile(rb"(Uniqueid|Linkedid): 1795(\d+)")
    parts = [b"Asterisk Call Manager/11.0.0\r\n"]
    for n in range(copies):
        parts.append(
            ids.sub(lambda m, n=n: m.group(1) + b": " + str(5000 + n).encode() + m.group(2), one)
        )
    return b"".join(parts), per_copy * copies


def _chunks(stream: bytes) -> list[bytes]:
    return [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]


def ours_full(chunks: list[bytes]) -> float:
    pipeline = AmiPipeline()
    start = time.perf_counter()
    for chunk in chunks:
        pipeline.feed(chunk)
    return time.perf_counter() - start


def ours_parse(chunks: list[bytes]) -> float:
    framer = AmiFramer()
    start = time.perf_counter()
    for chunk in chunks:
        framer.feed(chunk)
    return time.perf_counter() - start


class _Sink:
    save_stream = None

    def dispatch(self, message: object) -> None:
        pass


def panoramisk_parse(chunks: list[bytes]) -> float:
    protocol = AMIProtocol()
    protocol.queue = deque()
    protocol.responses = {}
    protocol.factory = _Sink()
    protocol.version = None
    protocol.encoding = "utf-8"
    import logging

    protocol.log = logging.getLogger("bench.panoramisk")
    protocol.log.disabled = True
    start = time.perf_counter()
    for chunk in chunks:
        protocol.data_received(chunk)
    return time.perf_counter() - start


def best(fn, chunks: list[bytes], rounds: int = 3) -> float:
    return min(fn(chunks) for _ in range(rounds))


def run() -> None:
    stream, events = build_stream()
    chunks = _chunks(stream)
    full = best(ours_full, chunks)
    parse = best(ours_parse, chunks)
    theirs = best(panoramisk_parse, chunks)
    print(f"BENCH ami_events_per_s {events / full:.0f} events/s")
    print(f"BENCH ami_parse_events_per_s {events / parse:.0f} events/s")
    print(f"BENCH ami_panoramisk_parse_events_per_s {events / theirs:.0f} events/s")
    print(f"BENCH ami_vs_panoramisk {theirs / full:.2f} x")
    print(f"BENCH ami_parse_vs_panoramisk {theirs / parse:.2f} x")
    print(f"BENCH ami_bench_events {events} events")
