"""A small AMI peer for link tests: banner, Login, CoreShowChannels, scripted events, drops.

It is a stand-in for Asterisk (the one allowed), speaking the exact shapes of the real
captures: the login answer, and the CoreShowChannels answer of reconnect_midcall.after.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pbx.framing import AmiFramer
from pbx.message import Message
from tests.conftest import AMI_FIXTURES


def _capture_list_answer() -> list[bytes]:
    """The real CoreShowChannels answer (events) from reconnect_midcall.after."""
    data = (AMI_FIXTURES / "reconnect_midcall.after.ami").read_bytes()
    blocks = data.split(b"\r\n", 1)[1].split(b"\r\n\r\n")
    return [b + b"\r\n\r\n" for b in blocks if b"Event: CoreShowChannel\r\n" in b]


@dataclass
class AmiPeer:
    secret: str = "s3cret"
    events: list[bytes] = field(default_factory=list)  # played after each login
    received: list[Message] = field(default_factory=list)
    connections: int = 0
    drop_after_events: bool = False
    answer_originate: bool = True
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self.drop_all()
        self._server.close()
        await self._server.wait_closed()

    def drop_all(self) -> None:
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    def actions(self, name: str) -> list[Message]:
        return [m for m in self.received if m.get("Action") == name]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        framer = AmiFramer()
        framer.feed(b"Asterisk Call Manager/x\r\n")  # the client sends no banner
        try:
            while data := await reader.read(4096):
                for msg in framer.feed(data):
                    self.received.append(msg)
                    await self._answer(msg, writer)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _answer(self, msg: Message, writer: asyncio.StreamWriter) -> None:
        aid = msg.get("ActionID", "")
        action = msg.get("Action")
        if action == "Login":
            if msg.get("Secret") != self.secret:
                writer.write(
                    f"Response: Error\r\nActionID: {aid}\r\nMessage: Authentication failed\r\n\r\n".encode()
                )
                await writer.drain()
                writer.close()
                return
            writer.write(
                f"Response: Success\r\nActionID: {aid}\r\nMessage: Authentication accepted\r\n\r\n".encode()
            )
            writer.write(
                b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"
            )
        elif action == "CoreShowChannels":
            items = _capture_list_answer()
            writer.write(
                f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n".encode()
            )
            for item in items:
                writer.write(
                    item.replace(b"ActionID: ", b"X-Orig: ").replace(
                        b"\r\n\r\n", f"\r\nActionID: {aid}\r\n\r\n".encode()
                    )
                )
            writer.write(
                f"Event: CoreShowChannelsComplete\r\nActionID: {aid}\r\nEventList: Complete\r\nListItems: {len(items)}\r\n\r\n".encode()
            )
            for event in self.events:
                writer.write(event)
            if self.drop_after_events:
                await writer.drain()
                writer.close()
        elif action == "Ping":
            writer.write(f"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\n\r\n".encode())
        elif action == "Redirect" and "gone" in msg.get("Channel", ""):
            writer.write(
                f"Response: Error\r\nActionID: {aid}\r\nMessage: Channel does not exist: {msg['Channel']}\r\n\r\n".encode()
            )
        elif action == "Originate" and not self.answer_originate:
            pass  # the answer never comes: the link drops first
        else:
            writer.write(
                f"Response: Success\r\nActionID: {aid}\r\nMessage: {action} done\r\n\r\n".encode()
            )
        await writer.drain()
