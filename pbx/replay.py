"""Replaying recorded AMI traffic through the live path (framing, parsing, tracker)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from pbx import callevents as ce
from pbx.message import Message
from pbx.pipeline import AmiPipeline


class ReplayError(ValueError):
    """The file cannot be replayed; the message says why, in one line."""


def _messages_from_json(path: Path, text: str) -> list[Message]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReplayError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise ReplayError(f"{path}: expected a JSON array of event objects")
    out: list[Message] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or "Event" not in item:
            raise ReplayError(f"{path}: item {i} is not an event object with an 'Event' key")
        headers: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for key, value in item.items():
            values = value if isinstance(value, list) else [value]
            if not all(isinstance(v, str | int | float) for v in values) or not values:
                raise ReplayError(f"{path}: item {i}: header {key!r} must be a string")
            headers[str(key)] = str(values[0])
            if len(values) > 1:
                multi[str(key)] = [str(v) for v in values]
        out.append(Message(headers, multi or None))
    return out


def replay_file(path: Path, pipeline: AmiPipeline | None = None) -> Iterator[ce.CallEvent]:
    """High-level events of a raw capture (``.ami``) or a JSON array of events, in order."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read: {exc.strerror}") from None
    pipe = pipeline or AmiPipeline()
    if raw.lstrip()[:1] == b"[":
        for message in _messages_from_json(path, raw.decode("utf-8", "replace")):
            yield from pipe.feed_message(message)
        return
    # Fed in socket-sized pieces, so a replay exercises the same buffering as live traffic.
    for start in range(0, len(raw), 4096):
        yield from pipe.feed(raw[start : start + 4096])
    yield from pipe.feed(b"\r\n\r\n")  # a capture may end right after its last message
