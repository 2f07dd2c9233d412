"""Live statistics per city and skill: rolling 15 and 60 minutes, and today.

Counters go into per-minute and per-day Redis hashes (local time of the city), so any
process can add to them and the wallboard sums the last 15 or 60 minutes. Service level is
answered within the threshold (15 s by default, GB/T 33358) over calls that ended in an
answer or an abandon.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from acd.queue.types import SeatState, Skill
from store import keys

DEFAULT_AHT_S = 180.0  # until an hour of calls says otherwise
MINUTE_TTL_S = 2 * 3600
DAY_TTL_S = 3 * 24 * 3600
FIELDS = (
    "offered",
    "answered",
    "abandoned",
    "answered_in_sl",
    "wait_sum",
    "handle_sum",
    "handled",
    "overflow_out",
    "overflow_in",
)


@dataclass(frozen=True, slots=True)
class Window:
    offered: int
    answered: int
    abandoned: int
    service_level: float | None  # 0..1; None before any call ended
    asa_s: float | None  # average speed of answer
    aht_s: float | None  # average handle time (talk + wrap-up)
    overflow_out: int
    overflow_in: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    city: str
    skill: str
    at: str
    windows: dict[str, Window]
    waiting: int
    longest_wait_s: float
    ready: int
    busy: int
    paused: int
    ewt_s: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Stats:
    def __init__(
        self, redis: Redis, tz: str = "Asia/Shanghai", sl_threshold_s: float = 15.0
    ) -> None:
        self.redis: Any = redis  # one reply shape per command; redis-py types them as unions
        self.tz = ZoneInfo(tz)
        self.sl_threshold_s = sl_threshold_s

    def _buckets(self, city: str, skill: str, at_ms: int) -> tuple[str, str]:
        local = datetime.fromtimestamp(at_ms / 1000, self.tz)
        return (
            keys.stats_bucket(city, skill, local.strftime("%Y%m%d%H%M")),
            keys.stats_bucket(city, skill, local.strftime("%Y%m%d")),
        )

    async def _add(self, city: str, skill: str, at_ms: int, **values: float) -> None:
        minute, day = self._buckets(city, skill, at_ms)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, ttl in ((minute, MINUTE_TTL_S), (day, DAY_TTL_S)):
                for name, value in values.items():
                    pipe.hincrbyfloat(key, name, value)
                pipe.expire(key, ttl)
            await pipe.execute()

    async def offered(self, city: str, skill: str, at_ms: int) -> None:
        await self._add(city, skill, at_ms, offered=1)

    async def answered(self, city: str, skill: str, at_ms: int, wait_s: float) -> None:
        in_sl = 1 if wait_s <= self.sl_threshold_s else 0
        await self._add(city, skill, at_ms, answered=1, wait_sum=wait_s, answered_in_sl=in_sl)

    async def abandoned(self, city: str, skill: str, at_ms: int) -> None:
        await self._add(city, skill, at_ms, abandoned=1)

    async def handled(self, city: str, skill: str, at_ms: int, handle_s: float) -> None:
        await self._add(city, skill, at_ms, handled=1, handle_sum=handle_s)

    async def overflowed(self, from_city: str, to_city: str, skill: str, at_ms: int) -> None:
        await self._add(from_city, skill, at_ms, overflow_out=1)
        await self._add(to_city, skill, at_ms, overflow_in=1)

    async def window(self, city: str, skill: str, now_ms: int, minutes: int | None) -> Window:
        if minutes is None:
            names = [self._buckets(city, skill, now_ms)[1]]
        else:
            names = [self._buckets(city, skill, now_ms - m * 60_000)[0] for m in range(minutes)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(name)
            rows = await pipe.execute()
        total = dict.fromkeys(FIELDS, 0.0)
        for row in rows:
            for name, value in row.items():
                total[name] = total.get(name, 0.0) + float(value)
        ended = total["answered"] + total["abandoned"]
        return Window(
            offered=int(total["offered"]),
            answered=int(total["answered"]),
            abandoned=int(total["abandoned"]),
            service_level=total["answered_in_sl"] / ended if ended else None,
            asa_s=total["wait_sum"] / total["answered"] if total["answered"] else None,
            aht_s=total["handle_sum"] / total["handled"] if total["handled"] else None,
            overflow_out=int(total["overflow_out"]),
            overflow_in=int(total["overflow_in"]),
        )

    async def day_totals(self, city: str, now_ms: int) -> dict[str, float]:
        """Today's counters (city time) summed over every skill: offered, answered, ..."""
        day = datetime.fromtimestamp(now_ms / 1000, self.tz).strftime("%Y%m%d")
        async with self.redis.pipeline(transaction=False) as pipe:
            for skill in Skill:
                pipe.hgetall(keys.stats_bucket(city, skill.value, day))
            rows = await pipe.execute()
        total: dict[str, float] = {}
        for row in rows:
            for name, value in row.items():
                total[name] = total.get(name, 0.0) + float(value)
        return total

    async def seat_counts(self, city: str, skill: str) -> dict[SeatState, int]:
        seat_ids = sorted(await self.redis.smembers(keys.acd_city_seats(city)))
        async with self.redis.pipeline(transaction=False) as pipe:
            for seat_id in seat_ids:
                pipe.hmget(keys.acd_seat(seat_id), ["state", "skills"])
            rows = await pipe.execute()
        counts = dict.fromkeys(SeatState, 0)
        for state, skills in rows:
            if state and skill in (skills or "").split(","):
                counts[SeatState(state)] += 1
        return counts

    async def ewt_s(
        self, city: str, skill: str, now_ms: int, default_aht_s: float = DEFAULT_AHT_S
    ) -> float:
        """Expected wait of a caller joining now: callers ahead x handle time / staffed seats."""
        waiting = int(await self.redis.zcard(keys.acd_queue(city, skill)))
        counts = await self.seat_counts(city, skill)
        aht = (await self.window(city, skill, now_ms, 60)).aht_s or default_aht_s
        return expected_wait(waiting, counts, aht)

    async def snapshot(self, city: str, skill: Skill | str, now_ms: int) -> Snapshot:
        skill = str(skill)
        windows = {
            "15m": await self.window(city, skill, now_ms, 15),
            "60m": await self.window(city, skill, now_ms, 60),
            "today": await self.window(city, skill, now_ms, None),
        }
        queue = keys.acd_queue(city, skill)
        waiting = int(await self.redis.zcard(queue))
        longest = 0.0
        head = await self.redis.zrange(queue, 0, -1)
        if head:
            async with self.redis.pipeline(transaction=False) as pipe:
                for call_id in head:
                    pipe.hget(keys.acd_call(call_id), "arrival")
                arrivals = [int(a) for a in await pipe.execute() if a is not None]
            if arrivals:
                longest = max(0.0, (now_ms - min(arrivals)) / 1000)
        counts = await self.seat_counts(city, skill)
        # The windows and seat counts are in hand: no second round of reads for the EWT.
        ewt = expected_wait(waiting, counts, windows["60m"].aht_s or DEFAULT_AHT_S)
        at = datetime.fromtimestamp(now_ms / 1000, self.tz).isoformat(timespec="seconds")
        return Snapshot(
            city=city,
            skill=skill,
            at=at,
            windows=windows,
            waiting=waiting,
            longest_wait_s=round(longest, 1),
            ready=counts[SeatState.ready],
            busy=counts[SeatState.busy] + counts[SeatState.ringing] + counts[SeatState.wrapup],
            paused=counts[SeatState.paused],
            ewt_s=min(ewt, 24 * 3600.0),
        )

    async def publish(self, snapshot: Snapshot) -> str:
        """Append to the wallboard stream (bounded), for every API process to read."""
        entry = {
            "city": snapshot.city,
            "skill": snapshot.skill,
            "data": json.dumps(snapshot.to_json(), ensure_ascii=False),
        }
        return str(await self.redis.xadd(keys.STATS_STREAM, entry, maxlen=5000, approximate=True))


def expected_wait(waiting: int, counts: dict[SeatState, int], aht_s: float) -> float:
    """Callers ahead (and this one) x handle time / seats staffed; 0 when a seat is free."""
    staffed = sum(v for k, v in counts.items() if k is not SeatState.offline)
    if staffed == 0:
        return float("inf") if waiting else 0.0
    if not waiting and counts[SeatState.ready] > 0:
        return 0.0
    return (waiting + 1) * aht_s / staffed


def overloaded(
    ewt_s: float, threshold_s: float = 120.0, *, waiting: int | None = None, min_waiting: int = 1
) -> bool:
    """The city's callers should be offered a callback (the IVR reads OVERLOAD_<CITY>).

    The EWT alone is not enough: with no seat ready it is one handle time even when nobody
    waits, and a lone caller would hear the offer (issue 13). A queue is overloaded when the
    wait is long *and* at least ``min_waiting`` callers are in it."""
    if waiting is not None and waiting < min_waiting:
        return False
    return ewt_s >= threshold_s
