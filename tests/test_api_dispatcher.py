"""The dispatcher routes: city views, 多援一 switch and helpers, skills, callbacks, spy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from acd.callbacks import tasks as callbacks
from acd.commands import stream as commands
from acd.queue import overflow
from acd.queue.service import Acd
from acd.queue.stats import Stats
from acd.queue.types import SeatState, Skill
from store import keys
from tests.api_support import Api, api, backend  # noqa: F401
from tests.test_api_seat import _controller, talking


async def test_cities_show_queues_seats_overflow_and_link(api: Api) -> None:
    acd = await talking(api, "xa-c1")
    await acd.enqueue("xa-w1", "xa", Skill.general, caller_num="13800000001")
    await api.redis.hset(keys.ami_link("xa"), mapping={"state": "up", "since": "t"})
    await Stats(api.redis).offered("xa", "general", acd.clock())
    resp = await api.client.get("/api/dispatcher/cities", headers=api.role("dispatcher"))
    assert resp.status_code == 200
    xa, xy = resp.json()
    assert (xa["city"], xa["label"], xy["city"]) == ("xa", "西安", "xy")
    assert xa["stats"]["general"]["waiting"] == 1
    assert xa["stats"]["general"]["busy"] == 1
    windows = xa["stats"]["general"]["windows"]
    assert windows["15m"]["offered"] == windows["60m"]["offered"] == 1
    assert windows["today"]["offered"] in (0, 1)  # 0 only across midnight in Shanghai
    assert xa["link"]["state"] == "up" and xy["link"]["state"] == "unknown"
    assert xa["overflow"] == {
        "city": "xa",
        "enabled": True,
        "helpers": ["xy"],
        "rule": xa["overflow"]["rule"],
    }
    assert [(s["seat_id"], s["state"]) for s in xa["seats"]] == [("1001", "busy")]
    assert [w["call_id"] for w in xa["queues"]["general"]] == ["xa-w1"]
    assert xa["queues"]["enterprise"] == []
    one = await api.client.get("/api/dispatcher/cities/xa", headers=api.role("admin"))
    assert one.json()["stats"]["general"]["waiting"] == 1
    assert (
        await api.client.get("/api/dispatcher/cities/zz", headers=api.role("admin"))
    ).status_code == 404
    stats = await api.client.get(
        "/api/dispatcher/cities/xa/stats?skill=enterprise", headers=api.role("dispatcher")
    )
    assert stats.json()["skill"] == "enterprise" and stats.json()["waiting"] == 0
    bad = await api.client.get(
        "/api/dispatcher/cities/xa/stats?skill=nope", headers=api.role("dispatcher")
    )
    assert bad.status_code == 422
    history = await api.client.get(
        "/api/dispatcher/cities/xa/history?minutes=5", headers=api.role("dispatcher")
    )
    rows = history.json()
    # In the last minute, or the one before if a minute ended since the call was offered.
    assert len(rows) == 5 and rows[-1]["offered"] + rows[-2]["offered"] == 1
    assert sum(r["offered"] for r in rows) == 1
    too_long = "/api/dispatcher/cities/xa/history?minutes=1000"
    assert (await api.client.get(too_long, headers=api.role("dispatcher"))).status_code == 422


async def test_overflow_switch_and_helpers_are_what_routing_reads(api: Api) -> None:
    h = api.role("dispatcher")
    resp = await api.client.put(
        "/api/dispatcher/cities/xa/overflow", json={"enabled": False}, headers=h
    )
    assert resp.status_code == 200 and resp.json()["enabled"] is False
    assert (await overflow.get_state(api.redis, "xa")).enabled is False
    resp = await api.client.put(
        "/api/dispatcher/cities/xa/overflow", json={"enabled": True}, headers=h
    )
    assert (await overflow.get_state(api.redis, "xa")).enabled is True
    assert (
        await api.client.put(
            "/api/dispatcher/cities/xa/overflow", json={"enabled": "maybe"}, headers=h
        )
    ).status_code == 422
    assert (
        await api.client.put("/api/dispatcher/cities/xa/overflow", json={}, headers=h)
    ).status_code == 422
    resp = await api.client.delete("/api/dispatcher/cities/xa/helpers/xy", headers=h)
    assert resp.json()["helpers"] == []
    assert (await overflow.get_state(api.redis, "xa")).helpers == ()
    resp = await api.client.put("/api/dispatcher/cities/xa/helpers/xy", headers=h)
    assert resp.json()["helpers"] == ["xy"]
    assert (
        await api.client.put("/api/dispatcher/cities/xa/helpers/xa", headers=h)
    ).status_code == 422
    assert (
        await api.client.put("/api/dispatcher/cities/xa/helpers/zz", headers=h)
    ).status_code == 404


async def test_overflow_switch_changes_who_answers(api: Api) -> None:
    """Switched off over HTTP, a waiting xa caller is not offered to the xy helper seat."""
    acd = Acd(api.redis, cities=("xa", "xy"), trunks={"xy": "trunk-xy"}, clock=lambda: 1_000_000)
    await api.client.put(
        "/api/admin/seats/2001",
        json={"city": "xy", "skills": {"general": 1}, "endpoint": "PJSIP/2001"},
        headers=api.role("admin"),
    )
    from acd.queue.types import SeatSpec

    await acd.login(SeatSpec("2001", "xy", {Skill.general: 1}, "PJSIP/2001"))
    await acd.ready("2001")
    await overflow.configure(
        api.redis,
        "xa",
        ("xy",),
        overflow.OverflowRule(wait_s=0, ewt_s=None, callers_per_ready=None, all_cities_wait_s=None),
    )
    await acd.enqueue("xa-1", "xa", Skill.general, arrival_ms=0)
    h = api.role("dispatcher")
    await api.client.put("/api/dispatcher/cities/xa/overflow", json={"enabled": False}, headers=h)
    assert await acd.route("xa", Skill.general) is None
    await api.client.put("/api/dispatcher/cities/xa/overflow", json={"enabled": True}, headers=h)
    decision = await acd.route("xa", Skill.general)
    assert decision is not None and decision.seat_id == "2001" and decision.overflowed


async def test_moving_a_ready_seat_between_skills(api: Api) -> None:
    await api.client.post("/api/seat/login", headers=api.as_("seat1"))
    await api.client.post("/api/seat/ready", headers=api.as_("seat1"))
    h = api.role("dispatcher")
    resp = await api.client.put(
        "/api/dispatcher/seats/1001/skills", json={"skills": {"enterprise": 2}}, headers=h
    )
    assert resp.status_code == 200 and resp.json()["skills"] == {"enterprise": 2}
    assert await api.redis.zscore(keys.acd_ready("xa", "general"), "1001") is None
    assert await api.redis.zscore(keys.acd_ready("xa", "enterprise"), "1001") is not None
    seat = await Acd(api.redis).seat("1001")
    assert seat.skills == {Skill.enterprise: 2} and seat.state is SeatState.ready
    # The next login keeps the new skills (the profile changed too).
    await api.client.post("/api/seat/logout", headers=api.as_("seat1"))
    state = await api.client.post("/api/seat/login", headers=api.as_("seat1"))
    assert state.json()["skills"] == {"enterprise": 2}
    for body in ({"skills": {}}, {"skills": {"cooking": 1}}, {"skills": {"general": 0}}):
        assert (
            await api.client.put("/api/dispatcher/seats/1001/skills", json=body, headers=h)
        ).status_code == 422
    resp = await api.client.put(
        "/api/dispatcher/seats/7777/skills", json={"skills": {"general": 1}}, headers=h
    )
    assert resp.status_code == 404


async def test_callback_list_and_callback_now(api: Api) -> None:
    now = datetime.now(UTC)
    task = await callbacks.create(
        api.sessions,
        number="13900001111",
        city="xa",
        skill="general",
        source="abandoned",
        call_id="xa-9",
        waited_s=42.0,
        at=now,
    )
    assert task is not None
    await callbacks.create(
        api.sessions,
        number="13900002222",
        city="xy",
        skill="general",
        source="overload",
        call_id="xy-9",
        waited_s=0.0,
        at=now,
    )
    h = api.role("dispatcher")
    all_open = (await api.client.get("/api/dispatcher/callbacks", headers=h)).json()
    assert {t["number"] for t in all_open} == {"13900001111", "13900002222"}
    xa = (await api.client.get("/api/dispatcher/callbacks?city=xa", headers=h)).json()
    assert [(t["id"], t["waited_s"], t["source"]) for t in xa] == [(task.id, 42.0, "abandoned")]
    assert (
        await api.client.get("/api/dispatcher/callbacks?status=weird", headers=h)
    ).status_code == 422
    resp, cmd = await asyncio.gather(
        api.client.post(f"/api/dispatcher/callbacks/{task.id}/now", headers=h),
        _controller(api, "xa", commands.Reply(True, "queued")),
    )
    assert resp.status_code == 200 and resp.json()["detail"] == "queued"
    assert cmd.kind == "callback_now" and cmd.fields == {"task_id": str(task.id)}
    assert (
        await api.client.post("/api/dispatcher/callbacks/9999/now", headers=h)
    ).status_code == 404
    await callbacks.cancel_for_number(api.sessions, "13900001111", now)
    resp = await api.client.post(f"/api/dispatcher/callbacks/{task.id}/now", headers=h)
    assert resp.status_code == 409 and "cancelled" in resp.json()["detail"]


async def test_spy_on_a_busy_seat(api: Api) -> None:
    await talking(api, "xa-c1")
    h = api.role("dispatcher")
    resp, cmd = await asyncio.gather(
        api.client.post(
            "/api/dispatcher/spy", json={"seat_id": "1001", "mode": "whisper"}, headers=h
        ),
        _controller(api, "xa", commands.Reply(True, "whispering")),
    )
    assert resp.status_code == 200
    assert cmd.kind == "spy"
    assert cmd.fields == {"seat_id": "1001", "supervisor": "9001", "mode": "whisper"}
    # The admin has no softphone of its own: it must say which one.
    resp = await api.client.post(
        "/api/dispatcher/spy", json={"seat_id": "1001", "mode": "listen"}, headers=api.role("admin")
    )
    assert resp.status_code == 403 and "softphone" in resp.json()["detail"]
    for body in (
        {"seat_id": "1001", "mode": "shout"},
        {"seat_id": "1001"},
        {"seat_id": "10 01", "mode": "listen"},
    ):
        assert (
            await api.client.post("/api/dispatcher/spy", json=body, headers=h)
        ).status_code == 422
    await api.client.post("/api/seat/login", headers=api.as_("seat2"))
    resp = await api.client.post(
        "/api/dispatcher/spy", json={"seat_id": "1002", "mode": "barge"}, headers=h
    )
    assert resp.status_code == 409 and "not on a call" in resp.json()["detail"]
    resp = await api.client.post(
        "/api/dispatcher/spy", json={"seat_id": "4242", "mode": "barge"}, headers=h
    )
    assert resp.status_code == 404
