"""The seat routes through the ASGI app on real Redis and a real database: state buttons, the
current call with history and draft, the ticket, and requests to the controller."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from acd.calls import records
from acd.commands import stream as commands
from acd.queue.service import Acd
from acd.queue.types import SeatState, Skill
from asr.models import CallDraft
from store import keys
from tests.api_support import Api, api, backend  # noqa: F401
from tickets.models import Department

CALLER = "13812345678"
DRAFT = {
    "category": "城乡建设",
    "request_type": "投诉",
    "summary": "小区楼下夜间施工噪音扰民",
    "location": "雁塔区丈八东路",
    "urgent": False,
    "urgency_words": [],
    "emotion": "不满",
    "emotion_trend": ["平稳", "不满"],
    "emotion_direction": "变差",
    "repeat_caller": True,
    "repeat_same_issue": False,
    "department": None,
    "department_number": None,
    "desk": None,
    "tier_days": 5,
    "due_at": None,
}


async def _post(api: Api, path: str, who: str = "seat1", **kw: object):
    return await api.client.post(path, headers=api.as_(who), **kw)  # type: ignore[arg-type]


async def talking(api: Api, call_id: str = "xa-c1", seat: str = "seat1") -> Acd:
    """A caller of xa answered by the seat: ACD state in Redis and the call record."""
    acd = Acd(api.redis, cities=("xa", "xy"))
    assert (await _post(api, "/api/seat/login", seat)).status_code == 200
    assert (await _post(api, "/api/seat/ready", seat)).status_code == 200
    now = datetime.now(UTC)
    await records.call_entered(api.sessions, call_id, "xa", CALLER, now)
    await records.call_queued(api.sessions, call_id, "general", "1", now)
    await acd.enqueue(call_id, "xa", Skill.general, caller_num=CALLER, channel="PJSIP/t-1")
    decision = await acd.route("xa", Skill.general)
    assert decision is not None
    await records.seat_offered(api.sessions, call_id, decision.seat_id, "xa", False, now)
    await acd.answered(call_id)
    await records.offer_result(api.sessions, call_id, "answered", now)
    return acd


async def test_state_buttons(api: Api) -> None:
    state = await api.client.get("/api/seat/state", headers=api.as_("seat1"))
    assert state.json()["state"] == "offline"
    resp = await _post(api, "/api/seat/login")
    assert resp.status_code == 200 and resp.json()["state"] == "paused"
    assert resp.json()["city"] == "xa" and resp.json()["skills"] == {"general": 1}
    resp = await _post(api, "/api/seat/ready")
    assert resp.json()["state"] == "ready"
    resp = await _post(api, "/api/seat/pause", json={"reason": "培训"})
    assert resp.json()["state"] == "paused" and resp.json()["reason"] == "培训"
    # Not in wrap-up: a clear 409.
    resp = await _post(api, "/api/seat/wrapup/end")
    assert resp.status_code == 409 and "not in wrap-up" in resp.json()["detail"]
    resp = await _post(api, "/api/seat/logout")
    assert resp.json()["state"] == "offline"
    assert (await Acd(api.redis).seat("1001")).state is SeatState.offline


async def test_pause_reason_is_validated(api: Api) -> None:
    await _post(api, "/api/seat/login")
    resp = await _post(api, "/api/seat/pause", json={"reason": "睡觉"})
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["body", "reason"]
    assert (await _post(api, "/api/seat/pause", json={})).status_code == 422
    resp = await _post(api, "/api/seat/pause", json={"reason": "小休", "extra": 1})
    assert resp.status_code == 422


async def test_ready_before_login_is_404_and_unset_seat_is_404(api: Api) -> None:
    resp = await _post(api, "/api/seat/ready")
    assert resp.status_code == 404 and "unknown seat 1001" in resp.json()["detail"]
    await api.client.post(
        "/api/admin/users",
        json={"username": "seat9", "password": "password-9", "role": "seat", "seat_id": "1009"},
        headers=api.role("admin"),
    )
    token = (await api.login("seat9", "password-9")).json()["token"]
    resp = await api.client.post("/api/seat/login", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 404 and "not set up" in resp.json()["detail"]


async def test_wrapup_end_after_a_call(api: Api) -> None:
    acd = await talking(api)
    await acd.ended("xa-c1", wrapup_s=60)
    assert (await acd.seat("1001")).state is SeatState.wrapup
    resp = await _post(api, "/api/seat/wrapup/end")
    assert resp.status_code == 200 and resp.json()["state"] == "ready"


async def test_current_call_with_history_tickets_and_draft(api: Api) -> None:
    earlier = datetime.now(UTC) - timedelta(days=3)
    await records.call_entered(api.sessions, "xa-c0", "xa", CALLER, earlier)
    await records.call_ended(api.sessions, "xa-c0", "completed", 16, earlier)
    await records.call_entered(api.sessions, "xa-other", "xa", "13900000000", earlier)
    older = earlier - timedelta(days=2)
    await records.call_entered(api.sessions, "xa-cm", "xa", CALLER, older)
    await records.call_ended(api.sessions, "xa-cm", "completed", 16, older)
    await talking(api)
    async with api.sessions.begin() as session:
        session.add(CallDraft(call_id="xa-c1", draft=DRAFT))
        session.add(CallDraft(call_id="xa-cm", draft={**DRAFT, "emotion": "平稳"}))
        session.add(CallDraft(call_id="xa-c0", draft={**DRAFT, "emotion": "生气"}))
    resp = await api.client.get("/api/seat/call", headers=api.as_("seat1"))
    body = resp.json()
    assert body["seat"]["state"] == "busy" and body["seat"]["call_id"] == "xa-c1"
    assert body["call"]["caller_num"] == CALLER and body["call"]["state"] == "talking"
    assert [c["call_id"] for c in body["earlier_calls"]] == ["xa-c0", "xa-cm"]
    # a repeat caller: the mood of each call, oldest first, this one's last
    assert body["mood_trend"] == ["平稳", "生气", DRAFT["emotion"]]
    assert body["draft"]["draft"]["summary"] == DRAFT["summary"]
    assert ["分类", "城乡建设"] in body["draft"]["labelled"]
    assert body["tickets"] == [] and body["ticket"] is None

    ticket = {k: DRAFT[k] for k in ("category", "request_type", "summary", "location", "urgent")}
    ticket |= {"tier_days": 5, "summary": "夜间施工噪音扰民（已核实）"}
    # Confirmed twice at the same moment (a double click, two tabs): one ticket, one 409.
    first, second = await asyncio.gather(
        _post(api, "/api/seat/calls/xa-c1/ticket", json=ticket),
        _post(api, "/api/seat/calls/xa-c1/ticket", json=ticket),
    )
    resp, again = sorted((first, second), key=lambda r: r.status_code)
    assert resp.status_code == 201, resp.text
    assert resp.json()["status"] == "受理" and resp.json()["number"]
    assert again.status_code == 409 and "has a ticket already" in again.json()["detail"]
    body = (await api.client.get("/api/seat/call", headers=api.as_("seat1"))).json()
    assert body["ticket"]["summary"] == "夜间施工噪音扰民（已核实）"
    assert [t["call_id"] for t in body["tickets"]] == ["xa-c1"]
    # Another seat may not touch this call.
    other = await _post(api, "/api/seat/calls/xa-c1/ticket", "seat2", json=ticket)
    assert other.status_code == 403
    assert (
        await api.client.get("/api/seat/calls/xa-c1", headers=api.as_("seat2"))
    ).status_code == 403
    mine = await api.client.get("/api/seat/calls", headers=api.as_("seat1"))
    assert [c["call_id"] for c in mine.json()] == ["xa-c1"]
    assert (await api.client.get("/api/seat/calls", headers=api.as_("seat2"))).json() == []


async def test_ticket_validation(api: Api) -> None:
    await talking(api)
    resp = await _post(api, "/api/seat/calls/xa-c1/ticket", json={"category": "x"})
    assert resp.status_code == 422
    missing = {d["loc"][-1] for d in resp.json()["detail"]}
    assert {"request_type", "summary", "tier_days"} <= missing
    bad = {"category": "x", "request_type": "投诉", "summary": "s", "tier_days": 0}
    assert (await _post(api, "/api/seat/calls/xa-c1/ticket", json=bad)).status_code == 422
    unknown_dept = bad | {"tier_days": 5, "department": "不存在的部门"}
    resp = await _post(api, "/api/seat/calls/xa-c1/ticket", json=unknown_dept)
    assert resp.status_code == 422 and "unknown department" in resp.json()["detail"]
    assert (
        await _post(api, "/api/seat/calls/nope/ticket", json=bad | {"tier_days": 5})
    ).status_code == 404


async def _controller(api: Api, city: str, reply: commands.Reply) -> commands.Command:
    """Acts as the city's controller would: read one request, answer it."""
    for _ in range(100):
        got = await commands.read(api.redis, city, "test-controller", block_ms=100)
        if got:
            await commands.answer(api.redis, got[0], reply)
            return got[0]
    raise AssertionError("no command arrived")


async def test_conference_goes_to_the_callers_controller_and_returns_its_reply(api: Api) -> None:
    await talking(api)
    async with api.sessions.begin() as session:
        dept = Department(name="市住建局", number="02912345", duty_hours="9-17", categories=[])
        session.add(dept)
    reply = commands.Reply(True, "department joined", {"bridge": "conf-xa-c1"})
    resp, cmd = await asyncio.gather(
        _post(api, "/api/seat/conference", json={"department_id": dept.id}),
        _controller(api, "xa", reply),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["fields"] == {"bridge": "conf-xa-c1"}
    assert resp.json()["detail"] == "department joined"
    assert resp.json()["command_id"] == cmd.id
    assert cmd.kind == "conference"
    assert cmd.fields == {
        "call_id": "xa-c1",
        "seat_id": "1001",
        "stay": "1",
        "department_id": str(dept.id),
    }

    resp, cmd = await asyncio.gather(
        _post(api, "/api/seat/transfer", json={"number": "02988886666"}),
        _controller(api, "xa", commands.Reply(True)),
    )
    assert resp.status_code == 200
    assert cmd.kind == "blind_transfer" and cmd.fields["number"] == "02988886666"

    resp, cmd = await asyncio.gather(
        _post(api, "/api/seat/conference/leave"),
        _controller(api, "xa", commands.Reply(False, "no conference on call xa-c1")),
    )
    assert resp.status_code == 409 and resp.json()["detail"] == "no conference on call xa-c1"
    assert cmd.kind == "conference_leave" and cmd.fields == {"call_id": "xa-c1", "seat_id": "1001"}


async def test_the_controllers_reason_for_a_refusal_picks_the_status(api: Api) -> None:
    await talking(api)
    for why, status in (("not_found", 404), ("state", 409), ("invalid", 422), ("failed", 502)):
        refusal = commands.Reply(False, f"refused: {why}", {commands.REFUSAL: why})
        resp, _cmd = await asyncio.gather(
            _post(api, "/api/seat/transfer", json={"number": "02988886666"}),
            _controller(api, "xa", refusal),
        )
        assert (resp.status_code, resp.json()["detail"]) == (status, f"refused: {why}"), why


async def test_conference_timeout_is_504(api: Api) -> None:
    await talking(api)
    resp = await _post(api, "/api/seat/conference", json={"number": "02988886666", "stay": False})
    assert resp.status_code == 504
    assert "did not answer within 1 s" in resp.json()["detail"]
    # The request is on the stream with the right fields, for a controller that comes back.
    entries = await api.redis.xrange(keys.commands("xa"))
    assert [e[1]["kind"] for e in entries] == ["conference"]
    assert entries[0][1]["stay"] == "0" and entries[0][1]["number"] == "02988886666"


async def test_conference_validation(api: Api) -> None:
    path = "/api/seat/conference"
    assert (await _post(api, path, json={"number": "12345"})).status_code == 409  # not on a call
    await talking(api)
    for body in (
        {},
        {"department_id": 1, "number": "02988886666"},
        {"number": "0298888\r\nAction: Hangup"},
        {"number": "abc"},
        {"department_id": 0},
    ):
        resp = await _post(api, path, json=body)
        assert resp.status_code == 422, body
    resp = await _post(api, path, json={"department_id": 999})
    assert resp.status_code == 404
    assert await api.redis.xlen(keys.commands("xa")) == 0  # nothing invalid reached the controller
