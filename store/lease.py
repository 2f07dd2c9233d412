"""A city controller's lease in Redis, with a fencing token: one active controller per city.

The pattern is the single-instance Redis lock of the Redis documentation (``SET key value NX
PX ttl``, released and extended only by a compare-and-act script), with the fencing token
Kleppmann's "How to do distributed locking" asks for: every acquisition takes the next number
of a counter (``INCR``), the lease holds that number, and the holder's writes carry it. A
holder that was paused (GC, SIGSTOP, a slow VM) past its lease wakes up believing it still
holds it; its writes then carry an old number, which the ACD's scripts refuse
(``acd.queue.scripts``), and its AMI link asks ``holds()`` before every action, which is
false once the local deadline (measured on the monotonic clock from *before* the request that
set the expiry, less a safety margin) has passed.

redis-py's ``Lock`` is this same lock without the fencing: its token is a random string
kept in the client, nothing hands it to the writes, and ``extend`` by a paused holder fails
only after it may already have acted. So it is not used as is.

Keys live in the ACD's hash tag (``store.keys.acd_lease``), so the ACD's scripts can read the
lease in their own atomic step on Redis Cluster too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from store import keys

log = logging.getLogger(__name__)

# KEYS[1] lease, KEYS[2] token counter. ARGV[1] ttl ms.
# Returns {token, 0} when acquired, {0, pttl of the current holder} when not.
_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, redis.call('PTTL', KEYS[1])} end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
return {token, 0}
"""
# KEYS[1] lease, KEYS[2] token counter. ARGV[1] the caller's token, ARGV[2] ttl ms.
# 1 when extended, or taken again with the same token: the lease ran out (Redis was away,
# restarted) and the counter shows nobody took it since, so this token is still the newest
# and no other process acted meanwhile. 0 when another token holds it or was handed out.
_RENEW = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if held == false and redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
# KEYS[1] lease. ARGV[1] the caller's token. 1 when released, 0 when it was not the holder.
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""
# A token no acquisition ever returns (the counter starts at 1): what a non-holder's writes
# carry, so a fenced script refuses them.
NO_TOKEN = "0"
RELEASE_WITHIN_S = 2.0  # a release at shutdown does not wait out a Redis outage

Clock = Callable[[], float]


class LeaseLost(Exception):
    """This process does not hold the lease (any more): it must not act for the city."""


@dataclass(frozen=True, slots=True)
class LeaseTimes:
    """How long a lease lasts, how often its holder extends it, how early it stops acting."""

    ttl_ms: int = 2000
    renew_ms: int = 666
    margin_ms: int = 300
    poll_ms: int = 200  # a standby's longest sleep between two tries

    @classmethod
    def from_ttl(cls, ttl_ms: int) -> LeaseTimes:
        """Renew three times per lease; stop acting 15 % before its end (clock drift between
        this host and Redis, and the time an action takes to leave); a standby tries at
        least ten times per lease."""
        if ttl_ms < 100:
            raise ValueError(f"lease of {ttl_ms} ms: at least 100 ms")
        return cls(ttl_ms, ttl_ms // 3, max(ttl_ms * 15 // 100, 10), max(ttl_ms // 10, 10))


class Lease:
    """One holder's view of a named lease (a city's controller lease)."""

    def __init__(
        self,
        redis: Redis,
        name: str,
        times: LeaseTimes | None = None,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.name = name
        self.times = times or LeaseTimes()
        self.token: int | None = None
        self._deadline = 0.0  # monotonic seconds: the lease surely lasts until then
        self._clock = clock
        self._redis: Any = redis
        self._key = keys.acd_lease(name)
        self._counter = keys.acd_fence(name)
        self._acquire = _register(redis, _ACQUIRE)
        self._renew = _register(redis, _RENEW)
        self._release = _register(redis, _RELEASE)
        # While ``keep`` runs, a lease that ran out is being taken again: ``ready`` waits for
        # the answer. Set (and replaced) at every renewal and when the lease is lost.
        self._keeping = False
        self._settled = asyncio.Event()

    # --- the local view ------------------------------------------------------------------
    def holds(self) -> bool:
        """True while this process may act: it got the lease and its safe deadline is ahead.
        No Redis round trip: this is asked before every AMI action."""
        margin = self.times.margin_ms / 1000
        return self.token is not None and self._clock() < self._deadline - margin

    async def ready(self) -> bool:
        """Whether this process may act, once that is known: while ``keep`` takes a lease
        that ran out (Redis away, or restarted) back, wait for the answer instead of
        acting as a non-holder (a fenced write refused, an AMI action dropped). True: held
        (again, same token); False: not held (lost, or nobody keeps it)."""
        while self._keeping and self.token is not None and not self.holds():
            await self._settled.wait()
        return self.holds()

    def _settle(self) -> None:
        settled, self._settled = self._settled, asyncio.Event()
        settled.set()

    def fence(self) -> tuple[str, str]:
        """(lease name, token) that the ACD's scripts check; a token no holder has when this
        process does not hold the lease locally."""
        if not self.holds():
            return self.name, NO_TOKEN
        return self.name, str(self.token)

    # --- Redis ---------------------------------------------------------------------------
    async def try_acquire(self) -> float:
        """Take the lease if it is free: 0.0 when taken (``token`` set), else the seconds the
        current holder's lease still runs."""
        started = self._clock()
        got = await self._acquire(keys=[self._key, self._counter], args=[self.times.ttl_ms])
        token, pttl = int(got[0]), int(got[1])
        if token == 0:
            return max(pttl, 0) / 1000
        self.token, self._deadline = token, started + self.times.ttl_ms / 1000
        return 0.0

    async def renew(self) -> bool:
        """Extend the lease; False (and the local view cleared) when another holds it now."""
        if self.token is None:
            return False
        started = self._clock()
        ok = await self._renew(
            keys=[self._key, self._counter], args=[str(self.token), self.times.ttl_ms]
        )
        if ok != 1:
            self.token = None
            self._settle()
            return False
        self._deadline = started + self.times.ttl_ms / 1000
        self._settle()
        return True

    async def release(self) -> None:
        """Give the lease up at once (a clean stop: the standby need not wait for the end).
        Within RELEASE_WITHIN_S: with Redis away the stop does not hang on it (the lease
        then runs out by itself)."""
        token, self.token = self.token, None
        self._settle()
        if token is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._release(keys=[self._key], args=[str(token)]), RELEASE_WITHIN_S
                )

    async def holder(self) -> int | None:
        """The token that holds the lease in Redis now, None when it is free."""
        value = await self._redis.get(self._key)
        return int(value) if value is not None else None

    # --- loops ---------------------------------------------------------------------------
    async def acquire(self) -> int:
        """Wait until this process holds the lease; its token. Redis errors are waited out."""
        poll = self.times.poll_ms / 1000
        failing = False  # one warning per outage, not one per try
        while True:
            try:
                left = await self.try_acquire()
                failing = False
            except RedisError as exc:
                if not failing:
                    log.warning("lease %s: cannot try to acquire: %s", self.name, exc)
                failing, left = True, poll
            if left == 0.0 and self.token is not None:
                return self.token
            await asyncio.sleep(min(max(left, 0.01), poll))

    async def keep(self) -> None:
        """Renew while held; returns as soon as the lease is lost (another holds it, or took
        a token after this one).

        A lease that ran out unrenewed (Redis did not answer, was restarted, or this process
        was paused) is not given up at once: this process stops acting (``holds()`` is
        false) and tries to take it again with the same token, which the renewal script
        allows only while no other token was handed out. Meanwhile ``ready()`` waits."""
        every = self.times.renew_ms / 1000
        poll = self.times.poll_ms / 1000
        retaking = False
        self._keeping = True
        try:
            while self.token is not None:
                await asyncio.sleep(poll if retaking else every)
                if not retaking and not self.holds():
                    log.warning(
                        "lease %s: token %s ran out unrenewed; taking it again",
                        self.name,
                        self.token,
                    )
                    retaking = True
                left = self._deadline - self._clock()
                try:
                    # Bounded: a renewal answered after the deadline is no use, and one
                    # waiting on a Redis that is away must not hold the next try up.
                    limit = max(left, 0.01) if not retaking else self.times.ttl_ms / 1000
                    ok = await asyncio.wait_for(self.renew(), timeout=limit)
                except (RedisError, TimeoutError) as exc:
                    if not retaking:
                        log.warning("lease %s: renewal failed, will retry: %r", self.name, exc)
                    continue
                if not ok:
                    log.warning("lease %s: another controller holds it now", self.name)
                    return
                if retaking:
                    log.warning("lease %s: taken again, token %s", self.name, self.token)
                    retaking = False
        finally:
            self._keeping = False
            self._settle()


def _register(redis: Redis, text: str) -> Any:
    if isinstance(redis, RedisCluster):
        text = "#!lua\n" + text
    return redis.register_script(text)
