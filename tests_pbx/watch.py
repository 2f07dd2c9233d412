"""The ground truth of a real-PBX chaos run: an AMI session of its own, never cut, that notes
every caller's life as Asterisk reports it. Written against the raw protocol, not pbx/: what
the product's link makes of the events is the thing under test.

Per caller (a channel of the pstn endpoint that starts its own call): when it came, when the
IVR handed it to the ACD (HotlineRoute), the seats dialled for it (SeatDial), whether a seat
answered, whether the dialplan's fallback took it (HotlineFallback), when it hung up.
A SeatDial for a caller whose previous seat dial is still open (no SeatResult, not hung up)
is a Redirect the controller sent twice: the dialplan left a ringing or talking seat for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field


@dataclass
class Caller:
    call_id: str
    number: str
    placed: float
    routed: float | None = None
    answered: float | None = None
    ended: float | None = None
    fell_back: bool = False
    seat_dials: int = 0
    dialling: bool = False  # a SeatDial not yet closed by its SeatResult or the hang-up
    dialled_twice: int = 0

    def waited_s(self) -> float:
        if self.routed is None:
            return 0.0
        return (self.answered or self.ended or time.monotonic()) - self.routed


@dataclass
class Watch:
    callers: dict[str, Caller] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _writer: asyncio.StreamWriter | None = None

    async def start(self, host: str, port: int, username: str, secret: str) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        self._writer = writer
        await reader.readline()  # the banner
        writer.write(
            f"Action: Login\r\nUsername: {username}\r\nSecret: {secret}\r\nEvents: on\r\n\r\n".encode()
        )
        await writer.drain()
        first = await self._frame(reader)
        if first.get("Response") != "Success":
            raise AssertionError(f"the watching AMI session could not log in: {first}")
        self._task = asyncio.get_running_loop().create_task(self._read(reader))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._writer is not None:
            self._writer.close()

    @staticmethod
    async def _frame(reader: asyncio.StreamReader) -> dict[str, str]:
        raw = await reader.readuntil(b"\r\n\r\n")
        out: dict[str, str] = {}
        for line in raw.decode(errors="replace").split("\r\n"):
            key, sep, value = line.partition(":")
            if sep and key not in out:
                out[key.strip()] = value.strip()
        return out

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            self.note(await self._frame(reader))

    def note(self, event: dict[str, str]) -> None:
        name = event.get("Event", "")
        channel = event.get("Channel", "")
        if not channel.startswith("PJSIP/pstn-"):
            return
        linkedid = event.get("Linkedid", "")
        if name == "Newchannel":
            if event.get("Uniqueid") == linkedid and event.get("Context") == "from-pstn":
                self.callers[linkedid] = Caller(
                    linkedid, event.get("CallerIDNum", ""), time.monotonic()
                )
            return
        caller = self.callers.get(linkedid)
        if caller is None:
            return
        user = event.get("UserEvent", "") if name == "UserEvent" else ""
        if name == "Hangup":
            caller.ended = time.monotonic()
            caller.dialling = False
        elif user == "HotlineRoute" and caller.routed is None:
            caller.routed = time.monotonic()
        elif user == "HotlineFallback":
            caller.fell_back = True
        elif user == "SeatDial":
            caller.seat_dials += 1
            if caller.dialling:
                caller.dialled_twice += 1
            caller.dialling = True
        elif user == "SeatResult":
            caller.dialling = False
        elif name == "DialEnd" and event.get("DialStatus") == "ANSWER" and caller.answered is None:
            caller.answered = time.monotonic()
