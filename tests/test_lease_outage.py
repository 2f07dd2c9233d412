"""A controller lease across a Redis restart, on a real redis-server of the test's own (the
chaos run's ``RedisServer``: a free port, an append-only file, stopped and started again).

The restart outlasts the lease, so Redis comes back without the lease key. The holder takes it
back with the same fencing token when nobody took a later one (the counter says so), and
meanwhile its ACD writes and AMI actions wait instead of being refused or dropped; a rival that
did take the lease while the holder was away keeps it, and the old token stays fenced out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from acd.queue.service import Acd
from acd.queue.types import Skill
from chaos.services import RedisServer
from pbx import actions as act
from pbx.link import AmiLink
from sim.ami_server import AmiServer
from sim.engine import SimPbx
from store import keys
from store.lease import RELEASE_WITHIN_S, Lease, LeaseLost, LeaseTimes
from store.redis_retry import outage_retry

TIMES = LeaseTimes.from_ttl(300)
AWAY_S = 0.6  # Redis down for twice the lease: the key is gone when it comes back


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    srv = RedisServer(tmp_path)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def controller_client(server: RedisServer) -> Redis:
    """As `hotline serve` gives its controllers: commands wait for Redis to come back."""
    return Redis.from_url(server.url, decode_responses=True, retry=outage_retry(20))


def rival_client(server: RedisServer) -> Redis:
    """A standby elsewhere, asked at chosen moments: one try, no waiting."""
    return Redis.from_url(server.url, decode_responses=True, retry=Retry(NoBackoff(), 0))


async def restart(server: RedisServer, away_s: float = AWAY_S) -> None:
    await asyncio.to_thread(server.stop)
    await asyncio.sleep(away_s)
    await asyncio.to_thread(server.start)


async def test_the_holder_takes_its_lease_back_with_the_same_token(server: RedisServer) -> None:
    redis, other = controller_client(server), rival_client(server)
    holder, rival = Lease(redis, "xa", TIMES), Lease(other, "xa", TIMES)
    assert await holder.try_acquire() == 0.0 and holder.token == 1
    keep = asyncio.create_task(holder.keep())
    acd = Acd(redis, cities=("xa",), fence=holder.fence, fence_ready=holder.ready)
    try:
        await acd.enqueue("c1", "xa", Skill.general)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(AWAY_S)
        assert not holder.holds()  # it stops acting on its own clock
        with pytest.raises(RedisError):
            await rival.try_acquire()  # nobody wins a lease while Redis is away
        write = asyncio.create_task(acd.enqueue("c2", "xa", Skill.general))
        await asyncio.sleep(0.2)
        assert not write.done()  # held until Redis and the lease are back, not refused
        await asyncio.to_thread(server.start)
        await asyncio.wait_for(write, 10)
        assert holder.holds() and holder.token == 1
        assert await holder.holder() == 1
        assert await rival.try_acquire() > 0.0 and rival.token is None
        assert await acd.active("xa") == {"c1", "c2"}
        assert await redis.get(keys.acd_fenced("xa")) is None  # no write was refused
        assert not keep.done()
    finally:
        keep.cancel()
        await asyncio.gather(keep, return_exceptions=True)
        await redis.aclose()
        await other.aclose()


async def test_a_rival_that_took_the_lease_meanwhile_keeps_it(server: RedisServer) -> None:
    redis, other = controller_client(server), rival_client(server)
    holder, rival = Lease(redis, "xa", TIMES), Lease(other, "xa", TIMES)
    try:
        await holder.try_acquire()
        await restart(server)
        assert await rival.try_acquire() == 0.0 and rival.token == 2
        await asyncio.wait_for(holder.keep(), 5)  # returns: the lease is lost
        assert holder.token is None
        assert await holder.ready() is False
        stale = Acd(redis, cities=("xa",), fence=lambda: ("xa", "1"))
        with pytest.raises(LeaseLost):
            await stale.enqueue("c1", "xa", Skill.general)
        assert await rival.holder() == 2
    finally:
        await redis.aclose()
        await other.aclose()


async def test_the_fence_accepts_the_newest_token_while_its_lease_is_missing(
    server: RedisServer,
) -> None:
    """A script sent before the restart and run after it (the client waited for Redis)
    carries the holder's token while the lease key is gone: accepted as long as no later
    token exists, refused once one does."""
    redis, other = controller_client(server), rival_client(server)
    holder, rival = Lease(redis, "xa", TIMES), Lease(other, "xa", TIMES)
    in_flight = Acd(redis, cities=("xa",), fence=lambda: ("xa", "1"))
    try:
        await holder.try_acquire()
        await restart(server)
        assert await holder.holder() is None
        await in_flight.enqueue("c1", "xa", Skill.general)
        await rival.try_acquire()
        with pytest.raises(LeaseLost):
            await in_flight.enqueue("c2", "xa", Skill.general)
        assert await in_flight.active("xa") == {"c1"}
    finally:
        await redis.aclose()
        await other.aclose()


async def test_an_ami_action_waits_for_the_lease_instead_of_being_dropped(
    server: RedisServer,
) -> None:
    redis = controller_client(server)
    holder = Lease(redis, "xa", TIMES)
    pbx = SimPbx("xa", {})
    ami = AmiServer(pbx, secret="s")
    port = await ami.start()
    link = AmiLink(
        "xa", "127.0.0.1", port, "hotline", "s", may_send=holder.holds, until_may_send=holder.ready
    )
    await holder.try_acquire()
    keep = asyncio.create_task(holder.keep())
    try:
        await link.start()
        await link.wait_up(20)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(AWAY_S)
        assert not holder.holds()
        sent = asyncio.create_task(link.send(act.setvar("HL_TEST", "1")))
        await asyncio.sleep(0.2)
        assert not sent.done()
        assert "setvar" not in [r.action for r in ami.received]
        await asyncio.to_thread(server.start)
        answer = await asyncio.wait_for(sent, 10)
        assert answer["Response"] == "Success"
        assert "setvar" in [r.action for r in ami.received]
        assert link.refused == 0 and holder.token == 1
    finally:
        keep.cancel()
        await asyncio.gather(keep, return_exceptions=True)
        await link.close()
        await ami.stop()
        await redis.aclose()


async def test_the_controller_client_waits_for_redis_then_gives_up(server: RedisServer) -> None:
    """outage_retry: a command during a restart goes through once Redis is back; one that
    would wait longer than its budget fails with the connection error, not never."""
    redis = Redis.from_url(server.url, decode_responses=True, retry=outage_retry(1.0))
    try:
        await redis.set("hl:test:k", "v")
        await asyncio.to_thread(server.stop)

        async def get() -> object:
            return await redis.get("hl:test:k")

        read = asyncio.create_task(get())
        await asyncio.sleep(0.5)
        assert not read.done()
        await asyncio.to_thread(server.start)
        assert await asyncio.wait_for(read, 5) == "v"  # the append-only file kept it
        await asyncio.to_thread(server.stop)
        loop = asyncio.get_running_loop()
        began = loop.time()
        with pytest.raises(RedisError):
            await asyncio.wait_for(redis.get("hl:test:k"), 10)
        assert 0.9 <= loop.time() - began < 5.0
    finally:
        await redis.aclose()


async def test_a_release_while_redis_is_away_does_not_hang_the_stop(server: RedisServer) -> None:
    redis = controller_client(server)  # would wait 20 s for Redis
    lease = Lease(redis, "xa", TIMES)
    try:
        await lease.try_acquire()
        await asyncio.to_thread(server.stop)
        loop = asyncio.get_running_loop()
        began = loop.time()
        await lease.release()
        assert loop.time() - began < RELEASE_WITHIN_S + 1.0
        assert lease.token is None and await lease.ready() is False
    finally:
        await redis.aclose()
