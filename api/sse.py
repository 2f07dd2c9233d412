"""Server-sent events: framing, heartbeats, and a clean stop when the client goes away."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from redis.asyncio import Redis

from store import keys
from store.tasks import cancelling

HEARTBEAT_S = 15.0
# An open stream renews its slot this often; a slot not renewed (a process that died with
# the stream open) lapses after SLOT_TTL_S.
SLOT_RENEW_S = 15.0
SLOT_TTL_S = 60.0


class TooManyStreams(Exception):
    """The user holds as many live streams as allowed (429)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"实时数据连接过多（每个用户最多 {limit} 个），请关闭其他页面后重试")


# Drop lapsed slots, then take one if fewer than the limit are held: one atomic step, so
# parallel opens from many API processes cannot overshoot.
_CLAIM = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


def _ms() -> int:
    return int(time.time() * 1000)


async def claim_slot(redis: Redis, user_id: int, limit: int) -> str:
    slot = uuid.uuid4().hex
    ttl_ms = int(SLOT_TTL_S * 1000)
    now = _ms()
    client: Any = redis
    got = await client.eval(
        _CLAIM, 1, keys.api_streams(user_id), now, now + ttl_ms, limit, slot, ttl_ms
    )
    if not int(got):
        raise TooManyStreams(limit)
    return slot


async def held(
    redis: Redis, user_id: int, slot: str, source: AsyncIterator[str]
) -> AsyncIterator[str]:
    """The stream, holding its slot while it runs and giving it back when it ends."""
    client: Any = redis
    key = keys.api_streams(user_id)
    renew_at = time.monotonic() + SLOT_RENEW_S
    try:
        async for chunk in source:
            if time.monotonic() >= renew_at:
                renew_at = time.monotonic() + SLOT_RENEW_S
                await client.zadd(key, {slot: _ms() + int(SLOT_TTL_S * 1000)}, xx=True)
                await client.pexpire(key, int(SLOT_TTL_S * 1000))
            yield chunk
    finally:
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()  # its own clean-up (a pubsub connection) runs now, not at GC
        with contextlib.suppress(Exception):
            await asyncio.shield(client.zrem(key, slot))


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
    if cancelling():
        return True
    return await request.is_disconnected()
