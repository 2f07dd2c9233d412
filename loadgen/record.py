"""An AMI client that keeps every byte it receives, written out in the captures' format.

The files are those of tests/fixtures/ami/: ``<name>.ami`` (the raw bytes received,
banner included), ``<name>.actions`` (the raw bytes sent) and ``<name>.timeline.jsonl`` (one
object per recv()/send(): seconds since connect, direction, data). A multi-byte character
split across two reads is carried over to the next chunk, as in set 2, so every chunk
decodes on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pbx.actions import Action
from pbx.framing import AmiFramer
from pbx.message import Message


@dataclass
class Chunk:
    t: float
    dir: str  # "recv" or "send"
    data: bytes


@dataclass
class RecordingClient:
    """Connects, logs in when told, sends validated actions and records the conversation."""

    name: str  # the ActionID prefix, as in the captures (<scenario>-<n>)
    chunks: list[Chunk] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    closed: bool = False
    _next_id: int = 0
    _t0: float = 0.0
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None
    _task: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _pending: bytes = b""

    async def connect(self, port: int, host: str = "127.0.0.1") -> None:
        self._reader, self._writer = await asyncio.open_connection(host, port)
        self._t0 = time.monotonic()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._reader is not None
        framer = AmiFramer()
        try:
            while data := await self._reader.read(4096):
                self._note("recv", data)
                self.messages.extend(framer.feed(data))
                self._changed.set()
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed = True
            self._changed.set()

    def _note(self, direction: str, data: bytes) -> None:
        t = time.monotonic() - self._t0
        if direction == "recv":
            data = self._pending + data
            cut = _complete_utf8(data)
            data, self._pending = data[:cut], data[cut:]
            if not data:
                return
        self.chunks.append(Chunk(t, direction, data))

    def skip_action_id(self) -> None:
        """Use up one ActionID (the capture's Originate that placed a caller)."""
        self._next_id += 1

    def write_action(self, action: Action) -> str:
        assert self._writer is not None
        aid = action.action_id  # an id of its own (the captures' cb-0001, dept-8009, ...)
        if aid is None:
            self._next_id += 1
            aid = f"{self.name}-{self._next_id}"
        data = action.encode(aid)
        self._note("send", data)
        self._writer.write(data)
        return aid

    async def send(self, action: Action, timeout_s: float = 10.0) -> Message:
        aid = self.write_action(action)
        return await self.wait(
            lambda m: m.get("Response") is not None and m.action_id == aid, timeout_s
        )

    async def wait(self, match: Callable[[Message], bool], timeout_s: float = 30.0) -> Message:
        """The first message (seen so far or to come) that matches."""
        seen = 0
        async with asyncio.timeout(timeout_s):
            while True:
                for msg in self.messages[seen:]:
                    if match(msg):
                        return msg
                seen = len(self.messages)
                if self.closed:
                    raise ConnectionError(f"{self.name}: connection closed while waiting")
                self._changed.clear()
                await self._changed.wait()

    async def wait_event(
        self, event: str, timeout_s: float = 30.0, after: int = 0, **fields: str
    ) -> Message:
        def match(m: Message) -> bool:
            return m.get("Event") == event and all(m.get(k) == v for k, v in fields.items())

        return await self.wait(match, timeout_s)

    async def wait_closed(self, timeout_s: float = 5.0) -> None:
        if self._task is not None:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(self._task)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    # --- output --------------------------------------------------------------------------
    def received(self) -> bytes:
        return b"".join(c.data for c in self.chunks if c.dir == "recv") + self._pending

    def sent(self) -> bytes:
        return b"".join(c.data for c in self.chunks if c.dir == "send")

    def write(self, path: Path) -> list[Path]:
        """FILE (.ami bytes), and beside it FILE's stem + .actions and .timeline.jsonl."""
        stem = path.with_suffix("") if path.suffix == ".ami" else path
        actions = stem.parent / f"{stem.name}.actions"
        timeline = stem.parent / f"{stem.name}.timeline.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.received())
        actions.write_bytes(self.sent())
        with timeline.open("w", encoding="utf-8") as out:
            for c in self.chunks:
                row = {"t": round(c.t, 6), "dir": c.dir, "data": c.data.decode("utf-8")}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return [path, actions, timeline]


def _complete_utf8(data: bytes) -> int:
    """Length of the longest prefix that does not end inside a UTF-8 character."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # a lead byte (or ASCII) at -back
            need = 1 if byte < 0x80 else 2 if byte >> 5 == 6 else 3 if byte >> 4 == 14 else 4
            return len(data) if need <= back else len(data) - back
    return len(data)
