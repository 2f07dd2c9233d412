"""Server-sent events: framing, heartbeats, and a clean stop when the client goes away."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

HEARTBEAT_S = 15.0


def frame(event: str, data: Any) -> str:
    body = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, default=str)
    lines = "".join(f"data: {line}\n" for line in body.splitlines() or [""])
    return f"event: {event}\n{lines}\n"


def response(source: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        source,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def gone(request: Request) -> bool:
    """The client left, or the server is shutting the stream down."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        return True
    return await request.is_disconnected()
