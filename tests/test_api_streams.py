"""Live streams over a real uvicorn (SSE), and /metrics, on real Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx

from acd.callbacks import stats as callback_stats
from acd.queue import notify
from acd.queue.service import Acd
from acd.queue.stats import Stats
from acd.queue.types import Skill
from store import keys
from tests.api_support import Api, api, backend, served  # noqa: F401


async def events(resp: httpx.Response) -> AsyncIterator[tuple[str, dict]]:
    kind, data = "", ""
    async for line in resp.aiter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data += line[6:]
        elif line == "" and kind:
            yield kind, json.loads(data)
            kind, data = "", ""


async def next_event(stream: AsyncIterator[tuple[str, dict]], kind: str) -> dict:
    async def find() -> dict:
        async for k, d in stream:
            if k == kind:
                return d
        raise AssertionError("stream ended")

    return await asyncio.wait_for(find(), 10)


async def test_seat_stream_pops_the_call(api: Api) -> None:
    async with served(api.app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        await client.post("/api/seat/login", headers=api.as_("seat1"))
        token = api.tokens["seat1"]
        async with client.stream("GET", f"/api/seat/events?token={token}") as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            stream = events(resp)
            hello = await next_event(stream, "hello")
            assert hello["seat"]["state"] == "paused" and hello["call"] is None
            await client.post("/api/seat/ready", headers=api.as_("seat1"))
            state = await next_event(stream, "state")
            assert state["seat"]["state"] == "ready"
            # What the controller publishes when it rings the seat (acd/controller.py _apply).
            await notify.seat_event(
                api.redis, "1001", "ringing", call_id="xa-7", caller="13812345678"
            )
            ring = await next_event(stream, "ringing")
            assert ring == {
                "type": "ringing",
                "seat_id": "1001",
                "call_id": "xa-7",
                "caller": "13812345678",
            }
        # Another seat's events do not reach this stream; another seat's token gets its own.
        other = await client.get(f"/api/seat/events?token={api.tokens['disp']}")
        assert other.status_code == 403


async def next_event_of(
    stream: AsyncIterator[tuple[str, dict]], kinds: tuple[str, ...]
) -> tuple[str, dict]:
    async def find() -> tuple[str, dict]:
        async for k, d in stream:
            if k in kinds:
                return k, d
        raise AssertionError("stream ended")

    return await asyncio.wait_for(find(), 10)


async def test_wallboard_stream_follows_the_stats_stream(api: Api) -> None:
    acd = Acd(api.redis, cities=("xa", "xy"))
    stats = Stats(api.redis)
    async with served(api.app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        token = api.tokens["disp"]
        async with client.stream("GET", f"/api/dispatcher/stream?city=xa&token={token}") as resp:
            stream = events(resp)
            first = await next_event(stream, "city")
            assert first["city"] == "xa" and first["stats"]["general"]["waiting"] == 0
            await acd.enqueue("xa-1", "xa", Skill.general)
            await stats.publish(
                await stats.snapshot("xy", Skill.general, acd.clock())
            )  # not asked for
            await stats.publish(await stats.snapshot("xa", Skill.general, acd.clock()))
            snap = await next_event(stream, "stats")
            assert snap["city"] == "xa" and snap["waiting"] == 1
            # The controller's callback figures share the stream: named by city and skill
            # "callbacks", so the page never sums them as a queue (it showed NaN when it did).
            await callback_stats.publish(
                api.redis, callback_stats.CallbackStats("xa", 2, 3, 1, 0, 0.75, 42.0, 60.0)
            )
            await stats.publish(await stats.snapshot("xa", Skill.general, acd.clock()))
            got = [await next_event_of(stream, ("stats", "callbacks")) for _ in range(2)]
            assert got[0] == ("stats", {**got[0][1], "city": "xa", "skill": "callbacks", "open": 2})
            assert got[1][0] == "stats" and got[1][1]["waiting"] == 1
            seats = await next_event(stream, "seats")
            assert seats["city"] == "xa" and seats["overflow"]["enabled"] is True
        bad = await client.get(f"/api/dispatcher/stream?city=zz&token={token}")
        assert bad.status_code == 404


async def test_metrics(api: Api) -> None:
    acd = Acd(api.redis, cities=("xa", "xy"))
    await api.client.post("/api/seat/login", headers=api.as_("seat1"))
    await api.client.post("/api/seat/ready", headers=api.as_("seat1"))
    await acd.enqueue("xa-1", "xa", Skill.enterprise)
    await api.redis.hset(keys.ami_link("xa"), mapping={"state": "up"})
    await api.redis.xadd(keys.ASR_STREAM, {"recording_id": "1"})
    await api.redis.xadd(keys.ASR_STREAM, {"recording_id": "2"})
    await api.redis.xgroup_create(keys.ASR_STREAM, keys.ASR_GROUP, id="0")
    await api.redis.xreadgroup(keys.ASR_GROUP, "w1", {keys.ASR_STREAM: ">"}, count=1)
    await api.client.put(
        "/api/dispatcher/cities/xy/overflow", json={"enabled": False}, headers=api.role("admin")
    )
    resp = await api.client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    for line in (
        'hotline_queue_waiting{city="xa",skill="enterprise"} 1.0',
        'hotline_queue_waiting{city="xa",skill="general"} 0.0',
        'hotline_seats{city="xa",state="ready"} 1.0',
        'hotline_ami_link_state{city="xa",state="up"} 1.0',
        'hotline_ami_link_state{city="xy",state="up"} 0.0',
        'hotline_overflow_enabled{city="xy"} 0.0',
        'hotline_overflow_enabled{city="xa"} 1.0',
        "hotline_asr_backlog 1.0",
        "hotline_asr_pending 1.0",
    ):
        assert line in text, line
    assert "hotline_controller_command_seconds" in text
