"""Asterisk sends its banner the moment the TCP connection opens; the link must not lose it.

panoramisk attaches its manager to the protocol in a callback of the connect future, which
can run after the first bytes were read (seen under load: the link crashed on every connect
and never came up). The protocol keeps those bytes until the manager is there.
"""

from __future__ import annotations

import asyncio

from pbx.link import _Protocol


async def test_bytes_before_the_manager_is_attached_are_kept() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        await writer.drain()
        await reader.read()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, protocol = await asyncio.get_running_loop().create_connection(
        _Protocol, "127.0.0.1", port
    )
    try:
        for _ in range(100):  # the banner arrives; nobody has attached a manager yet
            if protocol.early:
                break
            await asyncio.sleep(0.01)
        assert bytes(protocol.early) == b"Asterisk Call Manager/11.0.0\r\n"
        assert not transport.is_closing()  # no crash in data_received
    finally:
        transport.close()
        await asyncio.sleep(0.05)  # let the server side see the close and close its end
        server.close()
        await server.wait_closed()
