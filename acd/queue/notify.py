"""Per-seat events for the seat page: a call rings, is answered, ends.

Published on the seat's pub/sub channel (``channel``: one per seat and Redis database); every
API process that holds the seat's live stream is subscribed, so it does not matter which
process serves it. A page that was not connected misses nothing it needs: on connect it reads
the seat's state.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from redis.asyncio import Redis

from acd.queue.types import SeatView
from store import keys

log = logging.getLogger(__name__)


def channel(redis: Redis, seat_id: str) -> str:
    """The seat's pub/sub channel on this client's database (see store.keys.seat_events)."""
    pool = getattr(redis, "connection_pool", None)  # a Redis Cluster has none, and one database
    db = pool.connection_kwargs.get("db", 0) if pool is not None else 0
    return keys.seat_events(seat_id, int(db or 0))


async def seat_event(redis: Redis, seat_id: str, kind: str, **fields: Any) -> None:
    body = json.dumps({"type": kind, "seat_id": seat_id, **fields}, ensure_ascii=False)
    try:
        await redis.publish(channel(redis, seat_id), body)
    except Exception as exc:  # a seat page missing a pop must not stop the controller
        log.warning(
            "seat %s: cannot publish %s (call %s): %s", seat_id, kind, fields.get("call_id"), exc
        )


async def seat_state(redis: Redis, view: SeatView) -> None:
    """The seat's state changed without the page asking (its wrap-up ran out): the same
    body as the API's ``state`` event (api.schemas.SeatStateOut)."""
    seat = {
        "seat_id": view.seat_id,
        "city": view.city,
        "state": view.state.value,
        "reason": view.reason,
        "skills": {k.value: v for k, v in view.skills.items()},
        "call_id": view.call_id,
        "since_ms": view.since_ms,
    }
    await seat_event(redis, view.seat_id, "state", seat=seat)
