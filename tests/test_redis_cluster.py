"""The product on a real Redis Cluster (three masters started here): every ACD Lua script runs
through redis-py's cluster client, strict about hash slots, and so do the MULTI blocks, streams
and pub/sub of the API, the controllers and the ASR workers. Skipped only where the Debian
package redis-server is missing."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from acd.commands import stream as commands
from acd.queue import notify, overflow, scripts, skills
from acd.queue.service import PRIORITY_STEP, Acd
from acd.queue.stats import Stats
from acd.queue.types import SeatSpec, SeatState, Skill
from api import auth, sse
from asr import jobs
from hotline.redis import redis_client
from hotline.settings import Settings
from store import health, keys
from tests import redis_cluster

pytestmark = pytest.mark.skipif(
    not redis_cluster.available(), reason="redis-server (Debian package redis-server) missing"
)

LUA_DIR = Path(scripts.__file__).parent / "lua"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


@pytest.fixture(scope="module")
def cluster_url() -> Iterator[str]:
    with redis_cluster.cluster() as url:
        yield url


@pytest.fixture
async def client(cluster_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    """The product's own client for the cluster URL (hotline.redis.redis_client)."""
    settings = Settings(redis_url=cluster_url, data_dir=tmp_path)
    async with redis_client(settings) as redis:
        cluster: Any = redis
        assert isinstance(cluster, RedisCluster)
        await cluster.flushall()  # every master
        yield cluster


def _sample(name: str) -> str | int:
    return 7 if name in ("user_id", "db", "task_id") else f"<{name}>"


def _builders() -> dict[str, str]:
    """Every key store.keys can make, by builder or constant name, with sample arguments."""
    out: dict[str, str] = {}
    for name, value in vars(keys).items():
        if inspect.isfunction(value) and value.__module__ == keys.__name__:
            params = inspect.signature(value).parameters
            out[name] = value(*[_sample(p) for p in params])
        elif name.isupper() and isinstance(value, str) and value.startswith(keys.PREFIX + ":"):
            out[name] = value
    return out


async def test_key_builders_share_the_slots_their_scripts_and_multis_need(client: Any) -> None:
    built = _builders()
    assert len(built) > 30  # every builder, not a handful

    async def slot(key: str) -> int:
        return int(await client.cluster_keyslot(key))

    acd_slot = await slot(keys.ACD_TAG)
    acd_names = [n for n, k in built.items() if keys.ACD_TAG in k]
    assert {"acd_queue", "acd_ready", "acd_seat", "callback_running", "ACD_SEQ"} <= set(acd_names)
    for name in acd_names:
        assert await slot(built[name]) == acd_slot, name
    # the keys scripts name from the prefix, in every city: one slot for all (多援一)
    for city in ("xa", "xy", "bj"):
        for key in (keys.acd_ready(city, "general"), keys.acd_queue(city, "general")):
            assert await slot(key) == acd_slot
    assert await slot(keys.ACD_KEY_PREFIX + "seat:1001") == acd_slot
    # keys written together in one MULTI
    for group in (
        (keys.commands("xa"), keys.commands("bj"), keys.command_reply("c1")),
        (keys.api_token("h1"), keys.api_user_tokens(7), keys.api_user_tokens(8)),
        (keys.login_attempts("qa", "10.0.0.9"), keys.login_ip_failures("10.0.0.9")),
    ):
        assert len({await slot(k) for k in group}) == 1, group


async def test_a_script_crossing_slots_fails_on_the_cluster(client: Any) -> None:
    """The control: a strict script that leaves the {acd} tag is refused, also when the other
    key's slot sits on the same node (which a script without a shebang would get away with),
    so the routing test below fails on such a script."""
    acd_node = client.get_node_from_key(keys.ACD_SEQ).name
    acd_slot = int(await client.cluster_keyslot(keys.ACD_SEQ))
    by_node: dict[bool, str] = {}
    for n in range(1000):
        key = keys.stats_bucket("xa", "general", str(n))
        if int(await client.cluster_keyslot(key)) != acd_slot:
            by_node.setdefault(client.get_node_from_key(key).name == acd_node, key)
    crossing = client.register_script(
        "#!lua\nredis.call('INCR', KEYS[1]) redis.call('INCR', ARGV[1]) return 1"
    )
    for other in (by_node[True], by_node[False]):
        with pytest.raises(ResponseError, match=r"same slot|non local key"):
            await crossing(keys=[keys.ACD_SEQ], args=[other])


async def _seat(acd: Acd, clock: Clock, seat_id: str, city: str, *skills_: Skill) -> None:
    await acd.login(SeatSpec(seat_id, city, dict.fromkeys(skills_, 1), f"PJSIP/{seat_id}"))
    await acd.ready(seat_id)
    clock.advance(1)


async def _callback_claim(client: Any, clock: Clock) -> list[str]:
    """The claim as acd.callback_runner sends it: task 5's first attempt on a callback seat."""
    claim = scripts.register(client, "callback_claim")
    prefix = keys.ACD_KEY_PREFIX
    args = ["cb-5-1", clock(), prefix, 60_000, "xa", "callback", "13800000000", 0, PRIORITY_STEP]
    args.append("")  # no one seat that must take it
    fence = ["", ""]  # no lease to check (acd.queue.scripts)
    got: list[str] = await claim(keys=[keys.callback_running(5)], args=[*args, "callback", *fence])
    return got


async def test_every_acd_script_runs_on_the_cluster(client: Any) -> None:
    clock = Clock()
    acd = Acd(client, cities=("xa", "xy", "bj"), trunks={"xy": "t-xy", "bj": "t-bj"}, clock=clock)
    rule = overflow.OverflowRule(
        wait_s=10, ewt_s=None, callers_per_ready=None, all_cities_wait_s=60
    )
    await overflow.configure(client, "xa", ("xy",), rule)
    await _seat(acd, clock, "1001", "xa", Skill.general)
    await _seat(acd, clock, "2001", "xy", Skill.general)
    await _seat(acd, clock, "3001", "bj", Skill.general)
    await skills.set_skills(client, "1001", {Skill.general: 1, Skill.enterprise: 2})  # WATCH

    await acd.enqueue("c1", "xa", Skill.general)
    first = await acd.route("xa", Skill.general)
    assert first is not None and (first.seat_id, first.ring) == ("1001", 1)
    assert await acd.answered("c1") == "1001"
    assert await acd.ended("c1", wrapup_s=5) == ("completed", "1001")
    clock.advance(6)
    assert await acd.finish_wrapups() == ["1001"]
    await acd.pause("1001", "会议")

    await acd.enqueue("c2", "xa", Skill.general)
    clock.advance(11)
    helper = await acd.route("xa", Skill.general)  # ring 2: the partner city (多援一)
    assert helper is not None and (helper.seat_id, helper.ring) == ("2001", 2)
    assert [r.seat_id for r in await acd.seat_missed("c2")] == ["2001"]
    clock.advance(60)
    every = await acd.route("xa", Skill.general)  # ring 3: every city
    assert every is not None and (every.seat_id, every.ring) == ("3001", 3)
    clock.advance(21)
    assert [r.call_id for r in await acd.expire_rings()] == ["c2"]

    await acd.ready("1001")
    assert await acd.to_fallback("c2") is None  # the dialplan's Queue() took it over
    await acd.fallback_ringing("c2", "1001")
    await acd.fallback_missed("c2", "1001")
    assert await acd.fallback_answered("c2", "1001")
    assert (await acd.ended("c2", wrapup_s=0))[0] == "completed"
    await acd.enqueue("c3", "xa", Skill.general)
    assert (await acd.ended("c3"))[0] == "abandoned"

    await _seat(acd, clock, "1002", "xa", Skill.callback)
    assert await _callback_claim(client, clock) == ["ok", "1002", "PJSIP/1002"]
    assert (await acd.seat("1002")).state is SeatState.ringing

    # Each script was sent to the node of the {acd} slot, in its strict (cluster) form.
    node = client.get_node_from_key(keys.ACD_SEQ)
    direct = Redis(host=node.host, port=node.port)
    try:
        for path in sorted(LUA_DIR.glob("*.lua")):
            strict = "#!lua\n" + scripts.source(path.stem)  # the key functions, then the file
            sha = hashlib.sha1(strict.encode()).hexdigest()
            assert (await direct.script_exists(sha)) == [True], f"{path.name} never ran"
    finally:
        await direct.aclose()


async def test_api_controller_and_worker_paths_on_the_cluster(client: Any) -> None:
    # requests to a controller: stream, consumer group, reply and acknowledgement in one MULTI
    command_id = await commands.submit(client, "xa", "spy", {"seat_id": "1001"})
    got = await commands.read(client, "xa", "controller-xa", block_ms=10)
    assert [c.id for c in got] == [command_id]
    await commands.answer(client, got[0], commands.Reply(True, "ok"))
    reply = await commands.wait_reply(client, command_id, timeout_s=1)
    assert reply is not None and reply.ok
    assert await commands.read(client, "xa", "controller-xa", block_ms=10) == []

    # sessions and the login lockout (MULTI blocks), the live stream slots (a script)
    who = auth.Principal(7, "seat1", "seat", "1001")
    token = await auth.issue_token(client, who, 60)
    assert await auth.resolve_token(client, token) == who
    await auth.revoke_user(client, 7)
    assert await auth.resolve_token(client, token) is None
    limits = auth.LoginLimits(per_account=2, per_ip=20, window_s=60)
    for _ in range(2):
        await auth.login_failed(client, "seat1", "10.0.0.9", limits.window_s)
    with pytest.raises(auth.TooManyAttempts):
        await auth.check_login_allowed(client, "seat1", "10.0.0.9", limits)
    await sse.claim_slot(client, 7, limit=1)
    with pytest.raises(sse.TooManyStreams):
        await sse.claim_slot(client, 7, limit=1)

    # a seat's pop-up over cluster pub/sub
    pubsub = client.pubsub()
    await pubsub.subscribe(notify.channel(client, "1001"))
    await notify.seat_event(client, "1001", "ringing", call_id="c9")
    message = None
    for _ in range(50):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message is not None:
            break
    await pubsub.aclose()
    assert message is not None and '"call_id": "c9"' in message["data"]

    # ASR jobs on the stream with the workers' consumer group; statistics; the health probe
    await jobs.ensure_group(client)
    job = jobs.Job(1, "c9", "xa", "caller", "/r/c9-in.wav")
    assert len(await jobs.enqueue_all(client, [job, job])) == 2
    stats = Stats(client)
    await stats.offered("xa", "general", 1_800_000_000_000)
    window = await stats.window("xa", "general", 1_800_000_000_000, minutes=None)
    assert window.offered == 1
    check = await health.redis_check(client)
    assert check.ok, check.detail


def test_settings_take_a_cluster_url(cluster_url: str) -> None:
    assert Settings(redis_url=cluster_url).redis_url == cluster_url
    assert Settings(redis_url="rediss+cluster://r1.example:6380").redis_url
    with pytest.raises(ValueError, match=r"redis\+cluster"):
        Settings(redis_url="unix+cluster:///tmp/r.sock")
