"""Routes the seat page and the wallboard use through a shift: the seat's unconfirmed
tickets, the wrap-up countdown, signing out for good, and the dispatcher's force ready / sign
out of a stuck seat, today's totals and the audited overflow switch."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from acd.calls import records
from acd.queue import notify
from acd.queue.service import Acd
from acd.queue.stats import Stats
from acd.queue.types import SeatState, Skill
from asr.models import CallDraft
from tests.api_support import Api, api, backend  # noqa: F401
from tests.test_api_seat import DRAFT, _post, talking


async def _end(api: Api, acd: Acd, call_id: str, wrapup_s: int = 60) -> None:
    await acd.ended(call_id, wrapup_s=wrapup_s)
    await records.call_ended(api.sessions, call_id, "completed", 16, datetime.now(UTC))


async def _audit(api: Api) -> list[dict[str, object]]:
    resp = await api.client.get("/api/admin/audit?username=disp", headers=api.role("admin"))
    assert resp.status_code == 200, resp.text
    return list(resp.json())


async def test_pending_tickets_keep_every_call_until_confirmed(api: Api) -> None:
    acd = await talking(api, "xa-c1")
    await _end(api, acd, "xa-c1")
    await _post(api, "/api/seat/wrapup/end")
    acd = await talking(api, "xa-c2")
    # While the second call is on, the first one's draft arrives: both stay in the list.
    async with api.sessions.begin() as session:
        session.add(CallDraft(call_id="xa-c1", draft=DRAFT))
    resp = await api.client.get("/api/seat/pending", headers=api.as_("seat1"))
    assert resp.status_code == 200
    # The call still on the line is not in it yet; the first one is, with its draft.
    assert [(p["call"]["call_id"], bool(p["draft"])) for p in resp.json()] == [("xa-c1", True)]
    await _end(api, acd, "xa-c2")
    body = (await api.client.get("/api/seat/pending", headers=api.as_("seat1"))).json()
    assert [p["call"]["call_id"] for p in body] == ["xa-c2", "xa-c1"]
    assert body[0]["draft"] is None
    assert body[1]["draft"]["draft"]["summary"] == DRAFT["summary"]
    # Another seat sees none of them.
    other = (await api.client.get("/api/seat/pending", headers=api.as_("seat2"))).json()
    assert other == []

    ticket = {k: DRAFT[k] for k in ("category", "request_type", "summary", "location", "urgent")}
    resp = await _post(api, "/api/seat/calls/xa-c1/ticket", json={**ticket, "tier_days": 5})
    assert resp.status_code == 201, resp.text
    body = (await api.client.get("/api/seat/pending", headers=api.as_("seat1"))).json()
    assert [p["call"]["call_id"] for p in body] == ["xa-c2"]
    bad = await api.client.get("/api/seat/pending?hours=0", headers=api.as_("seat1"))
    assert bad.status_code == 422


async def test_wrapup_left_counts_down_from_the_acd_deadline(api: Api) -> None:
    acd = await talking(api, "xa-c1")
    state = (await api.client.get("/api/seat/state", headers=api.as_("seat1"))).json()
    assert state["state"] == "busy" and state["wrapup_left_s"] is None
    await _end(api, acd, "xa-c1", wrapup_s=45)
    state = (await api.client.get("/api/seat/state", headers=api.as_("seat1"))).json()
    assert state["state"] == "wrapup"
    assert 0 < state["wrapup_left_s"] <= 45
    call = (await api.client.get("/api/seat/call", headers=api.as_("seat1"))).json()
    assert 0 < call["seat"]["wrapup_left_s"] <= 45


async def test_signout_leaves_the_acd_and_ends_the_token(api: Api) -> None:
    await _post(api, "/api/seat/login")
    await _post(api, "/api/seat/ready")
    resp = await _post(api, "/api/seat/signout")
    assert resp.status_code == 200, resp.text
    assert (await Acd(api.redis).seat("1001")).state is SeatState.offline
    again = await api.client.get("/api/seat/state", headers=api.as_("seat1"))
    assert again.status_code == 401
    # Only this session ended: the other seat is untouched.
    assert (await api.client.get("/api/seat/state", headers=api.as_("seat2"))).status_code == 200


async def test_signout_on_a_call_is_refused_and_keeps_the_token(api: Api) -> None:
    await talking(api, "xa-c1")
    resp = await _post(api, "/api/seat/signout")
    assert resp.status_code == 409
    assert (await Acd(api.redis).seat("1001")).state is SeatState.busy
    state = await api.client.get("/api/seat/state", headers=api.as_("seat1"))
    assert state.status_code == 200 and state.json()["state"] == "busy"


async def test_signout_without_ever_logging_in_ends_the_token(api: Api) -> None:
    assert (await _post(api, "/api/seat/signout")).status_code == 200
    assert (await api.client.get("/api/seat/state", headers=api.as_("seat1"))).status_code == 401


async def test_force_ready_a_seat_paused_by_a_missed_ring(api: Api) -> None:
    acd = Acd(api.redis, cities=("xa", "xy"))
    await _post(api, "/api/seat/login")
    await _post(api, "/api/seat/ready")
    await acd.enqueue("xa-m1", "xa", Skill.general, caller_num="13800000001")
    assert await acd.route("xa", Skill.general) is not None
    await acd.seat_missed("xa-m1")
    assert (await acd.seat("1001")).state is SeatState.paused
    pubsub = api.redis.pubsub()
    await pubsub.subscribe(notify.channel(api.redis, "1001"))
    try:
        resp = await api.client.post("/api/dispatcher/seats/1001/ready", headers=api.as_("disp"))
        assert resp.status_code == 200, resp.text
        assert resp.json()["state"] == "ready"
        # The seat's own page hears of it.
        seen = None
        for _ in range(50):
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if msg is not None:
                seen = json.loads(msg["data"])
                break
        assert seen is not None and seen["type"] == "state"
        assert seen["seat"]["state"] == "ready"
    finally:
        await pubsub.aclose()
    assert (await acd.seat("1001")).state is SeatState.ready
    entries = await _audit(api)
    assert [(e["action"], e["target"], e["detail"]) for e in entries] == [
        ("seat.force_ready", "seat:1001", "paused")
    ]


async def test_force_ready_refuses_a_seat_on_a_call_or_unknown(api: Api) -> None:
    await talking(api, "xa-c1")
    resp = await api.client.post("/api/dispatcher/seats/1001/ready", headers=api.as_("disp"))
    assert resp.status_code == 409
    resp = await api.client.post("/api/dispatcher/seats/1001/logout", headers=api.as_("disp"))
    assert resp.status_code == 409
    assert (await Acd(api.redis).seat("1001")).state is SeatState.busy
    resp = await api.client.post("/api/dispatcher/seats/7777/ready", headers=api.as_("disp"))
    assert resp.status_code == 404
    resp = await api.client.post("/api/dispatcher/seats/a%20b/ready", headers=api.as_("disp"))
    assert resp.status_code == 422
    resp = await api.client.post("/api/dispatcher/seats/1001/ready", headers=api.as_("seat1"))
    assert resp.status_code == 403
    assert await _audit(api) == []  # nothing was done, nothing is audited


async def test_force_logout_puts_a_ringing_call_back_in_the_queue(api: Api) -> None:
    acd = Acd(api.redis, cities=("xa", "xy"))
    await _post(api, "/api/seat/login")
    await _post(api, "/api/seat/ready")
    await acd.enqueue("xa-r1", "xa", Skill.general, caller_num="13800000001")
    assert await acd.route("xa", Skill.general) is not None
    assert (await acd.seat("1001")).state is SeatState.ringing
    resp = await api.client.post("/api/dispatcher/seats/1001/logout", headers=api.as_("disp"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["state"] == "offline"
    assert [w.call_id for w in await acd.waiting("xa", Skill.general)] == ["xa-r1"]
    assert [e["action"] for e in await _audit(api)] == ["seat.force_logout"]


async def test_overflow_switch_is_audited(api: Api) -> None:
    resp = await api.client.put(
        "/api/dispatcher/cities/xa/overflow", json={"enabled": False}, headers=api.as_("disp")
    )
    assert resp.status_code == 200 and resp.json()["enabled"] is False
    bad = await api.client.put(
        "/api/dispatcher/cities/zz/overflow", json={"enabled": True}, headers=api.as_("disp")
    )
    assert bad.status_code == 404
    entries = await _audit(api)
    assert [(e["action"], e["target"], e["detail"]) for e in entries] == [
        ("overflow.switch", "city:xa", "off")
    ]


async def test_today_totals_are_over_every_skill(api: Api) -> None:
    stats = Stats(api.redis)
    acd = Acd(api.redis)
    now = acd.clock()
    for skill, wait in (("general", 10.0), ("enterprise", 30.0)):
        await stats.offered("xa", skill, now)
        await stats.answered("xa", skill, now, wait)
        await stats.handled("xa", skill, now, 100.0 if skill == "general" else 200.0)
    await stats.offered("xa", "general", now)
    await stats.abandoned("xa", "general", now)
    resp = await api.client.get("/api/dispatcher/cities/xa", headers=api.role("dispatcher"))
    today = resp.json()["today"]
    if today["offered"] == 0:  # the counters were written just before midnight in Shanghai
        return
    assert today == {
        "offered": 3,
        "answered": 2,
        "abandoned": 1,
        "abandon_rate": 1 / 3,
        "asa_s": 20.0,
        "aht_s": 150.0,
    }
    assert resp.json()["now_ms"] > 0
    cities = (await api.client.get("/api/dispatcher/cities", headers=api.role("dispatcher"))).json()
    assert [c["city"] for c in cities] == ["xa", "xy"]
    assert cities[1]["today"]["abandon_rate"] is None
