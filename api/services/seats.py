"""Live seat figures the ACD's SeatView does not carry (the wrap-up deadline)."""

from __future__ import annotations

from redis.asyncio import Redis

from acd.queue.service import Acd
from api import schemas as s


async def with_wrapup_left(redis: Redis, seat: s.SeatStateOut, now_ms: int) -> s.SeatStateOut:
    """The seat with the seconds of wrap-up it has left (the ACD ends wrap-up at
    ``wrap_until``): the page counts down from the server's figure, not its own clock."""
    if seat.state != "wrapup":
        return seat
    until = await Acd(redis).wrap_until(seat.seat_id)
    if until is None:
        return seat
    left = max(0.0, (until - now_ms) / 1000)
    return seat.model_copy(update={"wrapup_left_s": round(left, 1)})
