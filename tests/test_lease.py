"""The controller lease (store.lease) and the fence every ACD script checks against it, on a
real Redis: a stale token is refused, an expired lease is acquirable with a higher token, a
non-holder cannot renew or release, and a holder stops acting before its lease ends."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from acd.queue.service import Acd
from acd.queue.types import SeatSpec, SeatState, Skill
from store import keys
from store.lease import NO_TOKEN, Lease, LeaseLost, LeaseTimes

SHORT = LeaseTimes.from_ttl(150)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def expire(lease: Lease) -> None:
    """Wait until Redis dropped the lease (its PX ran out)."""
    for _ in range(100):
        if await lease.holder() is None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the lease never expired")


async def test_one_holder_at_a_time_and_an_expired_lease_goes_to_the_next(redis: Redis) -> None:
    a, b = Lease(redis, "xa", SHORT), Lease(redis, "xa", SHORT)
    assert await a.try_acquire() == 0.0
    assert a.token == 1 and a.holds()
    left = await b.try_acquire()
    assert 0.0 < left <= 0.15 and b.token is None and not b.holds()
    await expire(a)
    assert await b.try_acquire() == 0.0
    assert b.token == 2  # monotonic: every acquisition a higher token
    assert await a.renew() is False  # the old holder cannot extend the new holder's lease
    assert a.token is None and not a.holds()
    assert await b.renew() is True
    assert await b.holder() == 2


async def test_a_non_holder_cannot_release(redis: Redis) -> None:
    a, b = Lease(redis, "xa", SHORT), Lease(redis, "xa", SHORT)
    await a.try_acquire()
    b.token = 7  # what a confused process might believe it holds
    await b.release()
    assert await a.holder() == 1
    await a.release()
    assert await a.holder() is None


async def test_leases_of_two_cities_are_independent(redis: Redis) -> None:
    xa, xy = Lease(redis, "xa", SHORT), Lease(redis, "xy", SHORT)
    assert await xa.try_acquire() == 0.0
    assert await xy.try_acquire() == 0.0
    assert (xa.token, xy.token) == (1, 1)


async def test_the_holder_stops_acting_before_its_lease_ends(redis: Redis) -> None:
    """Paused past its deadline (SIGSTOP, a long GC): holds() turns false on the monotonic
    clock alone, with no Redis round trip, margin included."""
    clock = Clock()
    times = LeaseTimes.from_ttl(2000)
    lease = Lease(redis, "xa", times, clock=clock)
    await lease.try_acquire()
    clock.now += (times.ttl_ms - times.margin_ms) / 1000 - 0.01
    assert lease.holds() and lease.fence() == ("xa", "1")
    clock.now += 0.02
    assert not lease.holds()
    assert lease.fence() == ("xa", NO_TOKEN)


async def test_keep_returns_when_another_took_the_lease(redis: Redis) -> None:
    a = Lease(redis, "xa", SHORT)
    await a.try_acquire()
    await redis.set(keys.acd_lease("xa"), "99", px=5000)  # another holder's token
    await asyncio.wait_for(a.keep(), 2)
    assert not a.holds()


@pytest.mark.parametrize("ttl_ms", [99, 0])
def test_a_lease_shorter_than_100_ms_is_refused(ttl_ms: int) -> None:
    with pytest.raises(ValueError, match="at least 100 ms"):
        LeaseTimes.from_ttl(ttl_ms)


async def _seat_and_call(acd: Acd) -> None:
    await acd.login(SeatSpec("1001", "xa", {Skill.general: 1}, "PJSIP/1001"))
    await acd.ready("1001")
    await acd.enqueue("c1", "xa", Skill.general)


async def test_every_acd_write_with_a_stale_token_is_refused_and_counted(redis: Redis) -> None:
    old, new = Lease(redis, "xa", SHORT), Lease(redis, "xa", SHORT)
    await old.try_acquire()
    stale_fence = ("xa", str(old.token))
    await expire(old)
    await new.try_acquire()
    api = Acd(redis, cities=("xa",))  # no lease: the API's seat changes need none
    await _seat_and_call(api)
    stale = Acd(redis, cities=("xa",), fence=lambda: stale_fence)
    before = await redis.hgetall(keys.acd_call("c1"))
    writes = [
        stale.enqueue("c1", "xa", Skill.general, priority=9),
        stale.route("xa", Skill.general),
        stale.ready("1001"),
        stale.pause_missed("1001"),
        stale.expire_rings(),
        stale.seat_missed("c1"),
        stale.answered("c1"),
        stale.ended("c1"),
        stale.finish_wrapups(),
        stale.to_fallback("c1"),
    ]
    for write in writes:
        with pytest.raises(LeaseLost):
            await write
    assert int(await redis.get(keys.acd_fenced("xa"))) == len(writes)
    assert await redis.hgetall(keys.acd_call("c1")) == before  # nothing changed
    assert (await api.seat("1001")).state is SeatState.ready
    holder = Acd(redis, cities=("xa",), fence=new.fence)
    decision = await holder.route("xa", Skill.general)
    assert decision is not None and decision.seat_id == "1001"


async def test_a_holder_whose_deadline_passed_writes_nothing(redis: Redis) -> None:
    """Its lease may still be in Redis, but it no longer knows it holds it: its fence
    carries no token, so even a script racing the expiry is refused."""
    clock = Clock()
    lease = Lease(redis, "xa", LeaseTimes.from_ttl(2000), clock=clock)
    await lease.try_acquire()
    acd = Acd(redis, cities=("xa",), fence=lease.fence)
    await acd.enqueue("c1", "xa", Skill.general)
    clock.now += 2.0
    with pytest.raises(LeaseLost):
        await acd.enqueue("c2", "xa", Skill.general)
    assert await acd.active("xa") == {"c1"}
