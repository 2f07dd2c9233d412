"""The controller rides through a Redis restart (`make chaos`, row redis_restart): the
simulator, the city's controller as `hotline serve` runs it (``run_controller`` with its lease,
on the controllers' own pool), and a redis-server of the test's own stopped for longer than
the lease and started again while a caller reaches the queue.

The caller is answered by the seat that was ready, the call record is complete, and the
controller stayed active all along with the same fencing token: no routing pass killed the
city's loops, no standby round trip, no write refused. And when Redis is away for longer
than the client waits for it, a failed routing pass is retried, not the end of the city.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.queue.service import Acd
from acd.queue.types import SeatSpec, Skill
from chaos.services import RedisServer
from hotline.redis import connect
from hotline.serve import own_pool
from hotline.settings import AmiEndpoint, City, Settings
from hotline.standby import run_controller
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SeatBehaviour, SimPbx
from store import keys
from store.lease import Lease
from tests.calls_harness import record_ended, wait_for, wait_until

LEASE_MS = 300
AWAY_S = 1.5  # five leases: Redis comes back without the lease key


@dataclass
class Stage:
    server: RedisServer
    pbx: SimPbx
    ami: AmiServer
    acd: Acd
    redis: Redis  # the controller's
    controller: asyncio.Task[None]

    async def token(self) -> int | None:
        return await Lease(self.acd.redis, "xa").holder()


@asynccontextmanager
async def stage(
    tmp_path: Path,
    sessions: async_sessionmaker[AsyncSession],
    controller_redis: Callable[[Redis], Redis],
    seat_ready: bool,
) -> AsyncIterator[Stage]:
    """Redis, the simulated PBX with seat 1001, and the controller, active and resynced."""
    server = RedisServer(tmp_path)
    server.start()
    pbx = SimPbx("xa", {"1001": SeatBehaviour(answer_after_s=0.1, talk_s=0.3)})
    ami = AmiServer(pbx, secret="s")
    city = City(name="xa", ami=AmiEndpoint(port=await ami.start(), secret="s"))
    settings = Settings(cities=[city], controller_lease_ms=LEASE_MS)
    shared = connect(server.url)
    ours = own_pool(shared)  # the test's seat clicks and reads wait out the restart too
    redis = controller_redis(shared)
    acd = Acd(ours, cities=("xa",))
    controller: asyncio.Task[None] | None = None
    try:
        await acd.login(SeatSpec("1001", "xa", {Skill.general: 1}, "PJSIP/1001"))
        if seat_ready:
            await acd.ready("1001")
        controller = asyncio.create_task(run_controller(city, settings, redis, sessions))
        await wait_for(lambda: any(s.logged_in for s in ami.sessions))
        await asyncio.sleep(0.5)  # its resync
        yield Stage(server, pbx, ami, acd, redis, controller)
    finally:
        if controller is not None:
            controller.cancel()
            await asyncio.gather(controller, return_exceptions=True)
        await ami.stop()
        for client in {redis, ours, shared}:
            await client.aclose()
        server.stop()


async def test_a_caller_who_arrives_while_redis_restarts_is_answered(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with stage(tmp_path, sessions, own_pool, seat_ready=True) as s:
        assert await s.token() == 1
        await asyncio.to_thread(s.server.stop)
        caller = s.pbx.place_call(CallerScript("13800000001", "1", patience_s=60))
        await wait_for(lambda: caller.context == "acd-wait")  # handed to the ACD
        await asyncio.sleep(AWAY_S)
        await asyncio.to_thread(s.server.start)

        record = await record_ended(sessions, caller.linkedid)
        assert (record.outcome, record.seat_id) == ("completed", "1001")
        assert s.pbx.finished == [{"call_id": caller.linkedid, "outcome": "answered"}]
        assert not s.controller.done()  # the city's loops went on
        assert await s.token() == 1  # the same token: never stood down
        assert await s.acd.redis.get(keys.acd_fenced("xa")) is None
        assert await s.acd.active("xa") == set()


def fail_fast(shared: Redis) -> Redis:
    """A controller client that does not wait for Redis at all: every command during the
    outage fails, as any would once an outage outlasts the controller's waiting."""
    return Redis.from_url(shared_url(shared), decode_responses=True, retry=Retry(NoBackoff(), 0))


def shared_url(shared: Redis) -> str:
    kwargs = shared.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/0"


async def test_a_routing_pass_failing_on_redis_does_not_end_the_city(
    tmp_path: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with stage(tmp_path, sessions, fail_fast, seat_ready=False) as s:
        waiting = s.pbx.place_call(CallerScript("13800000001", "1", patience_s=60))

        async def queued() -> bool:
            return await s.acd.active("xa") == {waiting.linkedid}

        await wait_until(queued)
        await asyncio.to_thread(s.server.stop)
        # Another caller's events come in: each is followed by a routing pass, which fails.
        other = s.pbx.place_call(CallerScript("13800000002", "1", patience_s=60))
        await wait_for(lambda: other.context == "acd-wait")
        await asyncio.sleep(AWAY_S)
        await asyncio.to_thread(s.server.start)
        assert not s.controller.done()
        await s.acd.ready("1001")  # a seat for the caller queued before the outage
        record = await record_ended(sessions, waiting.linkedid)
        assert (record.outcome, record.seat_id) == ("completed", "1001")
        assert not s.controller.done()
        assert await s.token() == 1
