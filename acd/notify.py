"""Per-seat events for the seat page: a call rings, is answered, ends.

Published on the seat's pub/sub channel (store.keys.seat_events); every API process that
holds the seat's live stream is subscribed, so it does not matter which process serves it.
A page that was not connected misses nothing it needs: on connect it reads the seat's state.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from redis.asyncio import Redis

from store import keys

log = logging.getLogger(__name__)


async def seat_event(redis: Redis, seat_id: str, kind: str, **fields: Any) -> None:
    body = json.dumps({"type": kind, "seat_id": seat_id, **fields}, ensure_ascii=False)
    try:
        await redis.publish(keys.seat_events(seat_id), body)
    except Exception as exc:  # a seat page missing a pop must not stop the controller
        log.warning(
            "seat %s: cannot publish %s (call %s): %s", seat_id, kind, fields.get("call_id"), exc
        )
