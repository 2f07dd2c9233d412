"""The 工单 loop end to end through the simulator, with automated return visits.

A citizen calls; a seat answers; the draft the ASR worker writes (the real draft builder on the
caller's words) is on the seat's page and the seat confirms it; the dispatcher sends it straight
to a street (直派乡镇); the street signs and replies; the 回访台 starts the automated visit:
the real controller originates the citizen's phone into [revisit-ivr] as asterisk_conf has it,
the simulated citizen presses 3 (不满意), the ticket is reopened (重办) to the same street;
it replies again; the next visit hears 1 (满意); the dispatcher closes it (销号). Everything
staff do goes through HTTP (a real uvicorn); each visit rings the citizen exactly once.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from acd.calls.records import caller_history
from api.services import users
from asr.calldraft import CallDrafts
from asr.draft import DraftBuilder, Utterance
from sim import outbound, revisit
from tests.api_support import CHEAP_HASH, PASSWORD
from tests.calls_harness import paired_database_url, paired_redis_url
from tests.test_e2e_api_controller import (
    CITIZEN,
    Site,
    _ready_and_answer,
    one_backend,
    seat_stream,
    site,
)
from tickets.units import load_units, seed_units, set_member

pytestmark = pytest.mark.slow
__all__ = ["one_backend", "paired_database_url", "paired_redis_url"]

STREET = "雁塔区丈八沟街道"
WORDS = "我是雁塔区丈八沟街道的，我家门口的路面塌陷了一个大坑，好几天了没人管，请尽快修一下。"


async def _unit_user(s: Site, sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        ids = await seed_units(session, load_units())
    user = await users.create(sessions, "jd-zbg", PASSWORD, "unit", None, password_hash=CHEAP_HASH)
    async with sessions() as session:
        await set_member(session, user.id, STREET)
    resp = await s.http.post("/api/auth/login", json={"username": "jd-zbg", "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    s.tokens["jd-zbg"] = resp.json()["token"]
    return ids[STREET]


async def _step(s: Site, who: str, tid: int, **body: object) -> dict[str, Any]:
    resp = await s.post(who, f"/api/tickets/{tid}/actions", body)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def _until(s: Site, tid: int, status: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    end = loop.time() + 20
    while True:
        ticket = await s.get("disp", f"/api/tickets/{tid}")
        if ticket["status"] == status:
            return ticket  # type: ignore[no-any-return]
        assert loop.time() < end, f"ticket never {status}: {ticket['status']}"
        await asyncio.sleep(0.05)


async def test_call_to_ticket_to_unsatisfied_ivr_visit_to_redo_to_satisfied_visit_to_close(
    redis: Redis, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with site(redis, engine, sessions) as s, seat_stream(s) as stream:
        street = await _unit_user(s, sessions)
        call_id = await _ready_and_answer(s, stream)
        # The ASR worker's draft, built from the caller's words by the real builder.
        draft = DraftBuilder().build(
            [Utterance("seat", "您好，12345。"), Utterance("caller", WORDS)]
        )
        await CallDrafts(sessions, history=caller_history).upsert(
            call_id, dataclasses.asdict(draft)
        )
        shown = (await s.get("seat1", "/api/seat/call"))["draft"]["draft"]
        assert shown["location"] == draft.location and STREET in (draft.location or "")
        fields = ("category", "request_type", "summary", "location", "urgent", "tier_days")
        resp = await s.post(
            "seat1", f"/api/seat/calls/{call_id}/ticket", {k: shown[k] for k in fields}
        )
        assert resp.status_code == 201, resp.text
        tid = int(resp.json()["id"])

        assert (await _step(s, "disp", tid, action="dispatch", units=[street]))[
            "status"
        ] == "已派单"
        assert (await _step(s, "jd-zbg", tid, action="sign"))["status"] == "办理中"
        await _step(s, "jd-zbg", tid, action="reply", reason="已回填塌陷路面")

        # The citizen answers each visit call and presses 3 the first time, 1 the second.
        s.c.phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.1)
        revisit.keypad(s.c.pbx)[CITIZEN] = ["3", "1"]
        first = await s.post("disp", f"/api/visits/{tid}/calls", {"mode": "ivr"})
        assert first.status_code == 201, first.text
        again = await s.post("seat1", f"/api/visits/{tid}/calls", {"mode": "ivr"})
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        reopened = await _until(s, tid, "办理中")
        assert reopened["reopen_count"] == 1 and reopened["lead_unit_id"] == street

        await _step(s, "jd-zbg", tid, action="reply", reason="已重新铺设路面并验收")
        second = await s.post("seat1", f"/api/visits/{tid}/calls", {"mode": "ivr"})
        assert second.status_code == 201 and second.json()["id"] != first.json()["id"]
        visited = await _until(s, tid, "已回访")
        assert visited["satisfaction"] == "满意"
        closed = await _step(s, "disp", tid, action="close")
        calls = await s.get("disp", f"/api/visits/{tid}/calls")
    assert closed["status"] == "已销号"
    assert [(c["mode"], c["reply_round"], c["status"], c["result_label"]) for c in calls] == [
        ("ivr", 1, "done", "满意"),
        ("ivr", 0, "done", "不满意"),
    ]
    assert s.c.dialled == [CITIZEN, CITIZEN]  # one ring per visit, none for the repeated click
    steps = [(e["action"], e["role"], e["detail"]) for e in closed["events"]]
    visits = [
        (role, d.get("satisfaction"), d.get("reopened")) for a, role, d in steps if a == "visit"
    ]
    assert visits == [("system", "不满意", True), ("system", "满意", None)]
