"""The ACD on Redis: seats, queues and routing decisions, each change one atomic script.

Times are epoch milliseconds from an injectable clock, so tests can move time; every
controller and API process on the same Redis shares this state and never double-books a
seat, because the reservation happens inside one script.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from acd.queue import overflow
from acd.queue.scripts import Fence, FenceReady, Scripts, unfenced
from acd.queue.types import (
    MISSED,
    PAUSE_REASONS,
    UNREACHABLE,
    CallNotFound,
    Decision,
    InvalidTransition,
    Released,
    SeatNotFound,
    SeatSpec,
    SeatState,
    SeatView,
    Skill,
)
from store import keys

MAX_PRIORITY = 9
# The dialplan reports an unanswered ring itself (DialEnd / SeatResult); the ACD's own ring
# deadline is only the safety net for a report that never comes, so it waits a little longer.
RING_GRACE_S = 5
# Score = (MAX_PRIORITY - priority) * 1e13 + arrival ms: higher priority first, then arrival.
# 1e13 ms is ~300 years, so arrival never spills into the priority part.
PRIORITY_STEP = 10**13


def wall_ms() -> int:
    return int(time.time() * 1000)


def queue_score(priority: int, arrival_ms: int) -> int:
    if not 0 <= priority <= MAX_PRIORITY:
        raise ValueError(f"priority {priority} outside 0..{MAX_PRIORITY}")
    return (MAX_PRIORITY - priority) * PRIORITY_STEP + arrival_ms


@dataclass(frozen=True, slots=True)
class Waiting:
    call_id: str
    arrival_ms: int
    priority: int


class Acd:
    def __init__(
        self,
        redis: Redis,
        *,
        cities: tuple[str, ...] = (),
        trunks: dict[str, str] | None = None,
        clock: Callable[[], int] = wall_ms,
        fence: Fence = unfenced,
        fence_ready: FenceReady | None = None,
    ) -> None:
        # redis-py's async return types are unions of every reply shape; the scripts and
        # commands here have one known shape each, so the client is used untyped.
        # The one untyped handle on the ACD's Redis state: redis-py types every reply as a
        # union of sync and async results; this class's methods are the typed gateway that
        # acd/ and api/ read and change that state through.
        self.redis: Any = redis
        self.cities = cities
        self.trunks = trunks or {}  # city -> pjsip endpoint of the inter-city trunk to it
        self.clock = clock
        # A controller's Acd carries its lease's fencing token into every script; the API's
        # (no fence) changes seats for any controller. ``fence_ready`` (``Lease.ready``): a
        # script waits while the lease is being taken back after a Redis outage, instead of
        # going with no token and being refused.
        self.scripts = Scripts(redis, fence, fence_ready)

    # --- seats ---------------------------------------------------------------------------
    async def login(self, spec: SeatSpec) -> None:
        """Register a seat (paused until it says it is ready)."""
        now = self.clock()
        key = keys.acd_seat(spec.seat_id)
        current = await self.redis.hget(key, "state")
        if current in (SeatState.ringing, SeatState.busy):
            raise InvalidTransition(f"seat {spec.seat_id} is {current}; cannot log in again")
        skills = ",".join(s.value for s in spec.skills)
        levels = ",".join(f"{s.value}={lvl}" for s, lvl in spec.skills.items())
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "state": SeatState.paused,
                    "reason": "登录",
                    "city": spec.city,
                    "skills": skills,
                    "levels": levels,
                    "endpoint": spec.endpoint,
                    "since": now,
                    "idle_since": now,
                },
            )
            pipe.sadd(keys.acd_city_seats(spec.city), spec.seat_id)
            await pipe.execute()

    async def _seat_state(self, seat_id: str, target: SeatState, reason: str = "") -> SeatState:
        res = await self.scripts.seat_state(
            keys=[keys.ACD_WRAPUP],
            args=[seat_id, target, reason, self.clock(), keys.ACD_KEY_PREFIX],
        )
        if res[0] == "err":
            if res[1] == "unknown":
                raise SeatNotFound(f"unknown seat {seat_id}")
            raise InvalidTransition(f"seat {seat_id} is {res[1]}; cannot become {target}")
        return SeatState(res[1])

    async def ready(self, seat_id: str) -> None:
        await self._seat_state(seat_id, SeatState.ready)

    async def pause(self, seat_id: str, reason: str) -> None:
        if reason not in PAUSE_REASONS:
            raise ValueError(f"pause reason must be one of {', '.join(PAUSE_REASONS)}")
        await self._seat_state(seat_id, SeatState.paused, reason)

    async def pause_missed(self, seat_id: str) -> None:
        """The seat let a call it was offered ring out (the ACD's own reason, not the seat's)."""
        await self._seat_state(seat_id, SeatState.paused, MISSED)

    async def pause_unreachable(self, seat_id: str) -> None:
        """The seat's phone could not be called (not registered): offering it more calls
        would fail the same way, so it waits paused until the seat says it is ready."""
        await self._seat_state(seat_id, SeatState.paused, UNREACHABLE)

    async def end_wrapup(self, seat_id: str) -> None:
        seat = await self.seat(seat_id)
        if seat.state is not SeatState.wrapup:
            raise InvalidTransition(f"seat {seat_id} is {seat.state}, not in wrap-up")
        await self._seat_state(seat_id, SeatState.ready)

    async def logout(self, seat_id: str) -> list[Released]:
        """Log out; a call ringing on the seat goes back to its place in the queue."""
        seat = await self.seat(seat_id)
        if seat.state is SeatState.busy:
            raise InvalidTransition(f"seat {seat_id} is on a call; cannot log out")
        released: list[Released] = []
        if seat.state is SeatState.ringing and seat.call_id:
            released = await self._release(seat.call_id, MISSED, logout=seat_id)
            seat = await self.seat(seat_id)
        if seat.state is not SeatState.offline:
            await self._seat_state(seat_id, SeatState.offline)
        return released

    async def seat(self, seat_id: str) -> SeatView:
        raw: dict[str, str] = await self.redis.hgetall(keys.acd_seat(seat_id))
        if not raw:
            raise SeatNotFound(f"unknown seat {seat_id}")
        levels = dict(item.split("=") for item in raw.get("levels", "").split(",") if item)
        return SeatView(
            seat_id=seat_id,
            city=raw["city"],
            state=SeatState(raw["state"]),
            reason=raw.get("reason"),
            skills={Skill(k): int(v) for k, v in levels.items()},
            endpoint=raw["endpoint"],
            call_id=raw.get("call"),
            since_ms=int(raw.get("since", 0)),
        )

    async def seat_ids(self, city: str) -> list[str]:
        """Every seat logged in whose home is the city, sorted."""
        return sorted(await self.redis.smembers(keys.acd_city_seats(city)))

    async def seats_of(self, city: str) -> list[SeatView]:
        out = []
        for seat_id in await self.seat_ids(city):
            try:
                out.append(await self.seat(seat_id))
            except SeatNotFound:  # logged out between the two reads
                continue
        return out

    async def is_logged_in(self, seat_id: str) -> bool:
        return bool(await self.redis.exists(keys.acd_seat(seat_id)))

    async def wrap_until(self, seat_id: str) -> int | None:
        """When the seat's wrap-up ends (ms), None when it is not in wrap-up."""
        until = await self.redis.hget(keys.acd_seat(seat_id), "wrap_until")
        return int(until) if until is not None else None

    async def state_counts(self, city: str) -> dict[SeatState, int]:
        """How many of the city's seats are in each state (for the metrics)."""
        counts = dict.fromkeys(SeatState, 0)
        for seat_id in await self.seat_ids(city):
            state = await self.redis.hget(keys.acd_seat(seat_id), "state")
            if state in counts:
                counts[SeatState(state)] += 1
        return counts

    # --- callers -------------------------------------------------------------------------
    async def enqueue(
        self,
        call_id: str,
        city: str,
        skill: Skill,
        *,
        priority: int = 0,
        arrival_ms: int | None = None,
        channel: str = "",
        caller_num: str = "",
    ) -> int:
        """Put a caller in its city's queue for the skill; returns its 1-based position."""
        arrival = self.clock() if arrival_ms is None else arrival_ms
        score = queue_score(priority, arrival)
        qkey = keys.acd_queue(city, skill)
        rank = await self.scripts.enqueue(
            keys=[qkey],
            args=[
                call_id,
                keys.ACD_KEY_PREFIX,
                city,
                skill,
                priority,
                arrival,
                score,
                channel,
                caller_num,
            ],
        )
        return int(rank) + 1

    async def active(self, city: str) -> set[str]:
        """Every call of the city the ACD holds: waiting, ringing or talking."""
        return set(await self.redis.smembers(keys.acd_active(city)))

    async def waiting(self, city: str, skill: Skill, limit: int = 100) -> list[Waiting]:
        ids: list[str] = await self.redis.zrange(keys.acd_queue(city, skill), 0, limit - 1)
        out = []
        for call_id in ids:
            raw = await self.redis.hmget(keys.acd_call(call_id), ["arrival", "priority"])
            if raw[0] is not None:
                out.append(Waiting(call_id, int(raw[0]), int(raw[1] or 0)))
        return out

    async def queue_length(self, city: str, skill: Skill) -> int:
        return int(await self.redis.zcard(keys.acd_queue(city, skill)))

    async def position(self, call_id: str) -> int | None:
        raw = await self.redis.hmget(keys.acd_call(call_id), ["city", "skill"])
        if raw[0] is None:
            return None
        rank = await self.redis.zrank(keys.acd_queue(raw[0], raw[1]), call_id)
        return None if rank is None else int(rank) + 1

    async def call_info(self, call_id: str) -> dict[str, str]:
        raw: dict[str, str] = await self.redis.hgetall(keys.acd_call(call_id))
        if not raw:
            raise CallNotFound(f"unknown call {call_id}")
        return raw

    # --- routing -------------------------------------------------------------------------
    async def ready_count(self, city: str, skill: Skill) -> int:
        return int(await self.redis.zcard(keys.acd_ready(city, skill)))

    async def route(
        self,
        city: str,
        skill: Skill,
        *,
        ring_timeout_s: int = 15,
        ewt_s: float = 0.0,
        default_helpers: tuple[str, ...] = (),
    ) -> Decision | None:
        """Offer the head caller of (city, skill) to a seat, or None if nobody can take it."""
        qkey = keys.acd_queue(city, skill)
        args: list[str | int | float] = [
            0,
            (ring_timeout_s + RING_GRACE_S) * 1000,
            keys.ACD_KEY_PREFIX,
            skill,
            city,
            ewt_s,
            ",".join(self.cities or (city,)),
            ",".join(default_helpers),
            overflow.rule_json(overflow.OverflowRule()),
            PRIORITY_STEP,
        ]
        for _ in range(8):  # a stale ready entry was cleaned up: decide again
            args[0] = self.clock()
            res = await self.scripts.route(
                keys=[qkey, keys.ACD_RINGING, keys.acd_city(city)], args=args
            )
            if res[0] == "retry":
                continue
            if res[0] != "routed":
                return None
            _, call_id, seat_id, seat_city, endpoint, seq, ring = res
            remote = seat_city != city
            return Decision(
                call_id=call_id,
                seat_id=seat_id,
                seat_city=seat_city,
                caller_city=city,
                skill=skill,
                endpoint=endpoint,
                dial_string=self.dial_string(seat_id, seat_city, city, endpoint),
                overflowed=remote,
                ring=int(ring),
                ring_timeout_s=ring_timeout_s,
                seq=int(seq),
            )
        return None

    def dial_string(self, seat_id: str, seat_city: str, caller_city: str, endpoint: str) -> str:
        """How the caller's PBX reaches the seat: directly, or over the trunk to its city."""
        if seat_city == caller_city:
            return endpoint
        trunk = self.trunks.get(seat_city)
        if not trunk:
            raise ValueError(f"no inter-city trunk configured to {seat_city}")
        return f"PJSIP/{seat_id}@{trunk}"

    async def _release(self, call_id: str, reason: str, logout: str = "") -> list[Released]:
        res = await self.scripts.release(
            keys=[keys.ACD_RINGING],
            args=[self.clock(), keys.ACD_KEY_PREFIX, call_id, reason, logout],
        )
        return [Released(res[i], res[i + 1]) for i in range(0, len(res), 2)]

    async def seat_missed(self, call_id: str) -> list[Released]:
        """The seat's Dial ended unanswered: the caller back in place, the seat paused."""
        return await self._release(call_id, MISSED)

    async def expire_rings(self) -> list[Released]:
        """Calls whose ring deadline passed (no SeatResult came): same as a missed ring."""
        res = await self.scripts.release(
            keys=[keys.ACD_RINGING], args=[self.clock(), keys.ACD_KEY_PREFIX, "", MISSED, ""]
        )
        return [Released(res[i], res[i + 1]) for i in range(0, len(res), 2)]

    async def answered(self, call_id: str) -> str:
        res = await self.scripts.answered(
            keys=[keys.ACD_RINGING], args=[call_id, self.clock(), keys.ACD_KEY_PREFIX]
        )
        if res[0] != "ok":
            raise InvalidTransition(f"call {call_id} is {res[1]}, not ringing")
        return str(res[1])

    async def ended(self, call_id: str, wrapup_s: int = 30) -> tuple[str, str]:
        """The caller left; returns (outcome, seat id) with outcome abandoned /
        abandoned_ringing / completed / unknown."""
        res = await self.scripts.ended(
            keys=[keys.ACD_RINGING, keys.ACD_WRAPUP],
            args=[call_id, self.clock(), keys.ACD_KEY_PREFIX, wrapup_s * 1000],
        )
        return str(res[0]), str(res[1])

    async def finish_wrapups(self) -> list[str]:
        res = await self.scripts.wrapups(
            keys=[keys.ACD_WRAPUP], args=[self.clock(), keys.ACD_KEY_PREFIX]
        )
        return [str(s) for s in res]

    # --- the dialplan's fallback Queue() -------------------------------------------------
    async def _fallback(self, op: str, call_id: str, seat_id: str = "") -> list[str]:
        res = await self.scripts.fallback(
            keys=[keys.ACD_RINGING, keys.ACD_WRAPUP],
            args=[op, call_id, self.clock(), keys.ACD_KEY_PREFIX, seat_id],
        )
        return [str(x) for x in res]

    async def to_fallback(self, call_id: str) -> Released | None:
        """The dialplan queued the caller itself (HotlineFallback / QueueCallerJoin): it
        leaves the controller's queue for good. Returns the seat freed if one was ringing
        for it (the Redirect lost the race). A call the ACD does not hold, or that already
        talks, is left as it is."""
        res = await self._fallback("join", call_id)
        if res[0] == "ok" and len(res) > 2:
            return Released(call_id, res[2])
        return None

    async def fallback_ringing(self, call_id: str, seat_id: str) -> None:
        """app_queue rings a seat for a fallback caller: a ready seat is reserved for it."""
        await self._fallback("ring", call_id, seat_id)

    async def fallback_missed(self, call_id: str, seat_id: str) -> None:
        """app_queue's ring went unanswered: the seat it had reserved is ready again."""
        await self._fallback("noanswer", call_id, seat_id)

    async def fallback_answered(self, call_id: str, seat_id: str) -> bool:
        """A queue member answered a fallback caller: the call talks with that seat, and the
        seat is busy whatever the ACD thought it was. False when the call is not in the
        fallback (not ours, or already answered)."""
        res = await self._fallback("answer", call_id, seat_id)
        return res[0] == "ok"

    async def adopt_talking(
        self,
        call_id: str,
        city: str,
        skill: Skill | str,
        *,
        seat_id: str,
        channel: str,
        caller_num: str,
        arrival_ms: int,
    ) -> bool:
        """A call found talking after a (re)start that the ACD does not hold (the dialplan's
        fallback answered it while no controller ran): held as answered by ``seat_id``, which
        becomes busy. Never queued, so never routed. False if the ACD already held it."""
        key = keys.acd_call(call_id)
        created = await self.redis.hsetnx(key, "state", "fallback")
        if not created:
            state = await self.redis.hget(key, "state")
            if state not in ("waiting", "ringing", "fallback"):
                return False
            await self.to_fallback(call_id)
        else:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(
                    key,
                    mapping={
                        "fallback_at": arrival_ms,
                        "city": city,
                        "skill": str(skill),
                        "priority": 0,
                        "arrival": arrival_ms,
                        "score": queue_score(0, arrival_ms),
                        "channel": channel,
                        "caller": caller_num,
                    },
                )
                pipe.sadd(keys.acd_active(city), call_id)
                await pipe.execute()
        return await self.fallback_answered(call_id, seat_id)

    async def force_wrapup(self, seat_id: str) -> None:
        """The watchdog's reset: the seat leaves whatever call it was stuck in and goes
        through an immediate wrap-up, so the next tick makes it ready as usual."""
        key = keys.acd_seat(seat_id)
        now = self.clock()
        raw = await self.redis.hmget(key, ["state", "city", "skills"])
        if raw[0] in (None, SeatState.offline, SeatState.ready):
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for skill in (raw[2] or "").split(","):
                if skill:
                    pipe.zrem(keys.acd_ready(raw[1], skill), seat_id)
            pipe.hset(key, mapping={"state": SeatState.wrapup, "since": now, "wrap_until": now})
            pipe.hdel(key, "call", "reason")
            pipe.zadd(keys.ACD_WRAPUP, {seat_id: now})
            await pipe.execute()
