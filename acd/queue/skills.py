"""Moving a logged-in seat between skills (a dispatcher's decision), atomically.

A ready seat sits in one ready set per skill; the change rewrites the seat's skills and
moves it between ready sets in one transaction, retried if a routing decision touched the
seat meanwhile (WATCH), so it is never offered a call of a skill it just lost.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from acd.queue.types import SeatNotFound, SeatState, Skill
from store import keys


async def set_skills(redis: Redis, seat_id: str, skills: dict[Skill, int]) -> None:
    if not skills:
        raise ValueError(f"seat {seat_id}: at least one skill")
    key = keys.acd_seat(seat_id)
    client: Any = redis
    async with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(key)
                raw = await pipe.hmget(key, ["state", "city", "skills", "idle_since"])
                state, city, old, idle = raw
                if state is None:
                    raise SeatNotFound(f"unknown seat {seat_id}")
                pipe.multi()
                pipe.hset(
                    key,
                    mapping={
                        "skills": ",".join(s.value for s in skills),
                        "levels": ",".join(f"{s.value}={lvl}" for s, lvl in skills.items()),
                    },
                )
                if state == SeatState.ready:
                    for name in (old or "").split(","):
                        if name:
                            pipe.zrem(keys.acd_ready(city, name), seat_id)
                    for skill in skills:
                        pipe.zadd(keys.acd_ready(city, skill), {seat_id: int(idle or 0)})
                await pipe.execute()
                return
            except WatchError:
                continue
