"""The API → controller request stream on real Redis: delivered once, survives a restart."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from acd.commands import stream as commands
from store import keys


async def test_request_reaches_the_controller_and_the_reply_the_requester(redis: Redis) -> None:
    cid = await commands.submit(redis, "xa", "conference", {"call_id": "c1", "department": "3"})
    got = await commands.read(redis, "xa", "ctl-1", block_ms=100)
    assert [(c.id, c.kind, c.fields) for c in got] == [
        (cid, "conference", {"call_id": "c1", "department": "3"})
    ]
    waiter = asyncio.create_task(commands.wait_reply(redis, cid, timeout_s=2))
    await commands.answer(redis, got[0], commands.Reply(True, "room created", {"room": "r1"}))
    reply = await waiter
    assert reply == commands.Reply(True, "room created", {"room": "r1"})
    # acknowledged: neither this consumer nor a new one sees it again
    assert await commands.read(redis, "xa", "ctl-1", block_ms=50) == []
    assert await commands.read(redis, "xa", "ctl-2", block_ms=50) == []


async def test_unacknowledged_request_is_read_again_after_a_restart(redis: Redis) -> None:
    cid = await commands.submit(redis, "xy", "spy", {"seat": "1001", "mode": "listen"})
    first = await commands.read(redis, "xy", "ctl", block_ms=100)
    assert [c.id for c in first] == [cid]
    # the controller died before answering; restarted under the same consumer name
    again = await commands.read(redis, "xy", "ctl", block_ms=50)
    assert [c.id for c in again] == [cid]


async def test_cities_do_not_see_each_others_requests(redis: Redis) -> None:
    await commands.submit(redis, "xa", "spy", {"seat": "1001"})
    assert await commands.read(redis, "bj", "ctl", block_ms=50) == []


async def test_no_reply_in_time_is_none(redis: Redis) -> None:
    assert await commands.wait_reply(redis, "nobody", timeout_s=0.1) is None


@pytest.mark.parametrize(
    ("kind", "fields"),
    [("", {}), ("drop table", {}), ("spy", {"id": "x"}), ("spy", {"seat": 1001})],
)
async def test_bad_requests_are_refused_and_nothing_is_written(
    redis: Redis, kind: str, fields: dict[str, object]
) -> None:
    with pytest.raises(commands.CommandError):
        await commands.submit(redis, "xa", kind, fields)  # type: ignore[arg-type]
    assert await redis.exists(keys.commands("xa")) == 0
