"""A local TCP server that plays a recorded AMI capture to one client, chunk by chunk.

Chunk boundaries come from the capture's timeline (the real recv() sizes of the recording);
timing is compressed so the replay is fast.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path


def recv_chunks(capture: Path) -> list[bytes]:
    timeline = capture.with_suffix(".timeline.jsonl")
    if not timeline.exists():
        data = capture.read_bytes()
        return [data[i : i + 1400] for i in range(0, len(data), 1400)]
    chunks = []
    for line in timeline.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item["dir"] == "recv":
            chunks.append(item["data"].encode("utf-8"))
    return chunks


@asynccontextmanager
async def playing(chunks: list[bytes]) -> AsyncIterator[tuple[str, int]]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield "127.0.0.1", port


async def read_all(host: str, port: int, read_size: int = 1024) -> AsyncIterator[bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while data := await reader.read(read_size):
            yield data
    finally:
        writer.close()
