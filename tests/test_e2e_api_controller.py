"""What a person does in the API reaches the real controller and the simulated PBX, and the
answer comes back: a real uvicorn serving the app, the simulator over a real socket, the
controller built by hotline.controller, real Redis and a real database. Everything the staff
do goes through HTTP (logins, 就绪, the seat's event stream, three-way calls, transfers,
monitoring, "call back now"); only the citizens and the departments are the simulator's.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from acd.callbacks import store as callback_store
from acd.callbacks.runner import CallbackSettings
from acd.calls.transfers import room_of
from acd.controller import AcdSettings
from api.app import create_app
from sim import conference, outbound
from sim.engine import CallerScript, SeatBehaviour
from tests.api_support import PASSWORD, add_staff, make_deps, served
from tests.calls_harness import (
    FAST_CALLBACKS,
    PAIRS,
    CityUnderTest,
    city,
    paired_database_url,
    paired_redis_url,
    wait_for,
)
from tests.test_api_streams import events

pytestmark = pytest.mark.slow
__all__ = ["paired_database_url", "paired_redis_url"]

CITIZEN = "13900000007"
DEPT = "02987000004"
WRAPUP_S = 2


@pytest.fixture(name="backend", params=[PAIRS[-1]], ids=["-".join(PAIRS[-1])])
def one_backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    """Heavy: one backend pair, the servers when configured."""
    return request.param  # type: ignore[no-any-return]


@dataclass
class Site:
    c: CityUnderTest
    http: httpx.AsyncClient
    tokens: dict[str, str] = field(default_factory=dict)

    def as_(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    async def post(self, username: str, path: str, body: object = None) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.as_(username))

    async def get(self, username: str, path: str) -> Any:
        resp = await self.http.get(path, headers=self.as_(username))
        assert resp.status_code == 200, resp.text
        return resp.json()


@contextlib.asynccontextmanager
async def site(
    redis: Redis,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    callbacks: CallbackSettings = FAST_CALLBACKS,
) -> AsyncIterator[Site]:
    c = await city(redis, sessions, {"1001": SeatBehaviour(answer_after_s=0.1, talk_s=30)})
    conference.of(c.pbx).caller_stays_s = 1.5
    await add_staff(sessions)
    try:
        ctl = await c.start_controller(
            callbacks=callbacks,
            acd_settings=AcdSettings(
                ring_timeout_s=2, wrapup_s={"general": WRAPUP_S}, callback_after_s=0.3
            ),
        )
        ctl.runtime.transfers.dept_ring_s = 1
        # The API's own timeout for the controller's reply: the production default.
        app = create_app(make_deps(redis, engine, sessions=sessions))
        async with served(app) as base, httpx.AsyncClient(base_url=base, timeout=40) as http:
            s = Site(c, http)
            for user in ("admin", "disp", "qa", "seat1"):
                resp = await http.post(
                    "/api/auth/login", json={"username": user, "password": PASSWORD}
                )
                assert resp.status_code == 200, resp.text
                s.tokens[user] = resp.json()["token"]
            yield s
    finally:
        await c.close()


class Stream:
    """The seat page's event stream, read in the background."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    async def next(self, kind: str, timeout: float = 20.0) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            while True:
                for i, (k, data) in enumerate(self.seen):
                    if k == kind:
                        del self.seen[: i + 1]
                        return data
                await asyncio.sleep(0.02)

        return await asyncio.wait_for(find(), timeout)


@contextlib.asynccontextmanager
async def seat_stream(s: Site, username: str = "seat1") -> AsyncIterator[Stream]:
    stream = Stream()
    path = f"/api/seat/events?token={s.tokens[username]}"

    async def read() -> None:
        async with s.http.stream("GET", path) as resp:
            assert resp.status_code == 200
            async for item in events(resp):
                stream.seen.append(item)

    task = asyncio.create_task(read())
    try:
        await stream.next("hello")
        yield stream
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _ready_and_answer(s: Site, stream: Stream) -> str:
    """The seat logs in and goes 就绪; a citizen calls; the page pops the call; the seat's
    phone answers. Returns the call id."""
    assert (await s.post("seat1", "/api/seat/login")).status_code == 200
    resp = await s.post("seat1", "/api/seat/ready")
    assert resp.status_code == 200 and resp.json()["state"] == "ready", resp.text
    s.c.pbx.place_call(CallerScript(CITIZEN, "1", patience_s=30))
    ringing = await stream.next("ringing")
    assert (ringing["caller"], ringing["city"]) == (CITIZEN, "xa")
    answered = await stream.next("answered")
    assert answered["call_id"] == ringing["call_id"]
    return str(ringing["call_id"])


async def _department(s: Site, duty_hours: str = "00:00-24:00") -> int:
    body = {"name": "市住房和城乡建设局", "number": DEPT, "duty_hours": duty_hours}
    resp = await s.post("admin", "/api/admin/departments", body)
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


async def _wait_state(s: Site, state: str) -> None:
    async def reached() -> bool:
        return (await s.get("seat1", "/api/seat/state"))["state"] == state

    loop = asyncio.get_running_loop()
    end = loop.time() + 20
    while not await reached():
        assert loop.time() < end, f"seat never {state}"
        await asyncio.sleep(0.05)


async def _ended(s: Site, call_id: str) -> Any:
    """The seat's view of the call once the controller has written how it ended (the call
    record and its transfers are written by two of its tasks)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + 20
    while True:
        mine = await s.get("seat1", f"/api/seat/calls/{call_id}")
        if mine["call"]["outcome"] and all(t["ended_at"] for t in mine["transfers"]):
            return mine
        assert loop.time() < end, f"the call never ended: {mine}"
        await asyncio.sleep(0.05)


async def test_three_way_call_warm_hand_over(
    redis: Redis, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with site(redis, engine, sessions) as s, seat_stream(s) as stream:
        dept_id = await _department(s)
        directory = await s.get("seat1", "/api/seat/departments")
        assert [d["number"] for d in directory if d["id"] == dept_id] == [DEPT]
        s.c.phones[DEPT] = outbound.PhoneBehaviour(answer_after_s=0.2)
        call_id = await _ready_and_answer(s, stream)
        resp = await s.post(
            "seat1", "/api/seat/conference", {"department_id": dept_id, "stay": False}
        )
        assert resp.status_code == 200, resp.text
        reply = resp.json()
        assert reply["ok"] and reply["detail"] == "正在接通 市住房和城乡建设局"
        assert reply["fields"]["room"] and reply["fields"]["transfer_id"]
        told = await stream.next("transfer")
        assert (told["call_id"], told["result"]) == (call_id, "connected")
        # The seat left; caller and department talk on. The page is told, then told again
        # when the wrap-up is over.
        assert (await stream.next("ended"))["call_id"] == call_id
        assert (await s.get("seat1", "/api/seat/state"))["state"] == "wrapup"
        ready = await stream.next("state")
        assert (ready["seat"]["seat_id"], ready["seat"]["state"]) == ("1001", "ready")
        await wait_for(lambda: any(f["call_id"] == call_id for f in s.c.pbx.finished))
        mine = await _ended(s, call_id)
        seen_by_qa = await s.get("qa", f"/api/qa/calls/{call_id}")
    assert mine["call"]["outcome"] == "transferred" and mine["call"]["seat_id"] == "1001"
    [row] = mine["transfers"]
    assert seen_by_qa["transfers"] == mine["transfers"]
    assert (row["kind"], row["result"], row["department_id"], row["number"]) == (
        "conference",
        "connected",
        dept_id,
        DEPT,
    )
    assert row["id"] == int(reply["fields"]["transfer_id"]) and row["stay"] is False
    assert row["answered_at"] <= row["seat_left_at"] and row["ended_at"]
    joined = [who.split("-")[0] for what, who in conference.of(s.c.pbx).history if what == "join"]
    assert sorted(joined) == ["PJSIP/1001", "PJSIP/pstn", "PJSIP/pstn"]
    assert s.c.dialled == [DEPT]


async def test_three_way_call_the_department_does_not_answer(
    redis: Redis, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with site(redis, engine, sessions) as s, seat_stream(s) as stream:
        call_id = await _ready_and_answer(s, stream)  # the department's phone rings for ever
        resp = await s.post("seat1", "/api/seat/conference", {"number": DEPT})
        assert resp.status_code == 200 and resp.json()["ok"], resp.text
        told = await stream.next("transfer")  # after the department's ring time (1 s)
        assert (told["call_id"], told["result"]) == (call_id, "noanswer")
        now = await s.get("seat1", "/api/seat/call")
        assert now["seat"]["state"] == "busy" and now["call"]["call_id"] == call_id
        assert [(t["result"], t["answered_at"]) for t in now["transfers"]] == [("noanswer", None)]
        room = conference.of(s.c.pbx).rooms[room_of(call_id)]
        # The caller is back with the seat: both still in the room, nobody else.
        assert sorted(m.name.split("-")[0] for m in room.members) == ["PJSIP/1001", "PJSIP/pstn"]
        # Leaving would leave the caller alone: the controller refuses (409), the seat stays.
        leave = await s.post("seat1", "/api/seat/conference/leave")
        assert leave.status_code == 409, leave.text
        assert (await s.get("seat1", "/api/seat/state"))["state"] == "busy"
        await wait_for(lambda: any(f["call_id"] == call_id for f in s.c.pbx.finished))
        last = await _ended(s, call_id)
    assert last["call"]["outcome"] == "completed"
    assert [t["result"] for t in last["transfers"]] == ["noanswer"]


async def test_blind_transfer_and_an_off_duty_department(
    redis: Redis, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # Duty hours that never include now: the controller refuses, the API says 409 with why.
    here = datetime.now(ZoneInfo("Asia/Shanghai"))
    start, end = here + timedelta(hours=12), here + timedelta(hours=12, minutes=1)
    async with site(redis, engine, sessions) as s, seat_stream(s) as stream:
        closed = await _department(s, f"{start:%H:%M}-{end:%H:%M}")
        s.c.phones[DEPT] = outbound.PhoneBehaviour(answer_after_s=0.2, talk_s=0.3)
        call_id = await _ready_and_answer(s, stream)
        refused = await s.post("seat1", "/api/seat/transfer", {"department_id": closed})
        assert refused.status_code == 409, refused.text
        assert "不在值班时间" in refused.json()["detail"]
        resp = await s.post("seat1", "/api/seat/transfer", {"number": DEPT})
        assert resp.status_code == 200, resp.text
        assert resp.json()["detail"] == f"已转接 {DEPT}"
        state = (await s.get("seat1", "/api/seat/state"))["state"]
        assert state in ("wrapup", "ready")  # free at once
        await wait_for(lambda: any(f["call_id"] == call_id for f in s.c.pbx.finished))
        await _wait_state(s, "ready")
        mine = await _ended(s, call_id)
    assert {"call_id": call_id, "outcome": "transfer_answer"} in s.c.pbx.finished
    assert mine["call"]["outcome"] == "transferred"
    [row] = mine["transfers"]
    assert (row["kind"], row["result"], row["number"]) == ("blind", "connected", DEPT)
    assert row["seat_left_at"] and row["answered_at"] and row["ended_at"]


async def test_dispatcher_barges_in_and_others_may_not(
    redis: Redis, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with site(redis, engine, sessions) as s, seat_stream(s) as stream:
        s.c.phones["9001"] = outbound.PhoneBehaviour(answer_after_s=0.1, talk_s=0.3)
        call_id = await _ready_and_answer(s, stream)
        body = {"seat_id": "1001", "mode": "barge"}
        for user in ("seat1", "qa"):
            assert (await s.post(user, "/api/dispatcher/spy", body)).status_code == 403
        resp = await s.post("disp", "/api/dispatcher/spy", body)
        assert resp.status_code == 200, resp.text
        assert resp.json()["fields"]["call_id"] == call_id
        await wait_for(lambda: any(w == "spy" for w, _ in conference.of(s.c.pbx).history))
        idle = await s.post("disp", "/api/dispatcher/spy", {"seat_id": "1002", "mode": "listen"})
        assert idle.status_code == 404, idle.text  # seat 1002 never logged in
    [spy] = [who for what, who in conference.of(s.c.pbx).history if what == "spy"]
    assert spy.startswith("barge:PJSIP/1001-")


async def test_dispatcher_calls_back_now(
    redis: Redis, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # Callback hours that never include now: only the dispatcher's request starts it.
    here = datetime.now(ZoneInfo("Asia/Shanghai"))
    start, end = here + timedelta(hours=12), here + timedelta(hours=12, minutes=1)
    closed = replace(FAST_CALLBACKS, hours=(f"{start:%H:%M}", f"{end:%H:%M}"))
    async with site(redis, engine, sessions, callbacks=closed) as s, seat_stream(s) as stream:
        s.c.phones[CITIZEN] = outbound.PhoneBehaviour(answer_after_s=0.1, talk_s=0.3)
        # The dispatcher moves seat 1001 to the 漏话回拨 desk; no seat takes general calls.
        skills = {"skills": {"callback": 1}}
        resp = await s.http.put(
            "/api/dispatcher/seats/1001/skills", json=skills, headers=s.as_("disp")
        )
        assert resp.status_code == 200, resp.text
        assert (await s.post("seat1", "/api/seat/login")).status_code == 200
        assert (await s.post("seat1", "/api/seat/ready")).status_code == 200
        s.c.pbx.place_call(CallerScript(CITIZEN, "1", patience_s=1.0))  # gives up

        async def task() -> list[Any]:
            return list(await s.get("disp", "/api/dispatcher/callbacks?city=xa"))

        loop = asyncio.get_running_loop()
        end_at = loop.time() + 20
        while not (open_ := await task()):
            assert loop.time() < end_at, "no callback task"
            await asyncio.sleep(0.1)
        [t] = open_
        assert (t["number"], t["status"], t["source"]) == (CITIZEN, "open", "abandoned")
        await asyncio.sleep(0.5)
        assert s.c.dialled == []  # outside the hours nobody is called back by itself
        resp = await s.post("disp", f"/api/dispatcher/callbacks/{t['id']}/now")
        assert resp.status_code == 200, resp.text
        assert resp.json()["fields"]["task_id"] == str(t["id"])
        popped = await stream.next("callback")
        assert (popped["number"], popped["task_id"]) == (CITIZEN, t["id"])
        while not await s.get("disp", "/api/dispatcher/callbacks?city=xa&status=connected"):
            assert loop.time() < end_at + 20, "the callback never connected"
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # a second ring, if there were one, would have started
        again = await s.post("disp", f"/api/dispatcher/callbacks/{t['id']}/now")
        assert again.status_code == 409, again.text  # connected already
    assert s.c.dialled == [CITIZEN]
    [attempt] = await callback_store.attempts(sessions, t["id"])
    assert (attempt.outcome, attempt.seat_id) == ("connected", "1001")


async def test_routing_times_reach_metrics(
    redis: Redis, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with site(redis, engine, sessions) as s, seat_stream(s) as stream:
        before = (await s.http.get("/metrics")).text
        await _ready_and_answer(s, stream)  # one routing decision by the real controller
        scraped = (await s.http.get("/metrics")).text
    assert 'hotline_route_decision_seconds_count{city="xa"} 0.0' in before
    [family] = [
        f
        for f in text_string_to_metric_families(scraped)
        if f.name == "hotline_route_decision_seconds"
    ]
    xa = [x for x in family.samples if x.labels["city"] == "xa"]
    value = {(x.name, x.labels.get("le")): x.value for x in xa}
    assert value[("hotline_route_decision_seconds_count", None)] == 1
    assert value[("hotline_route_decision_seconds_bucket", "+Inf")] == 1
    assert 0 < value[("hotline_route_decision_seconds_sum", None)] < 2.5
    buckets = [x.value for x in xa if x.name.endswith("_bucket")]
    assert buckets == sorted(buckets) and buckets[0] <= 1
    xy = {x.name: x.value for x in family.samples if x.labels["city"] == "xy"}
    assert xy["hotline_route_decision_seconds_count"] == 0  # nothing routed there


def test_the_api_waits_longer_than_the_controller_may_need() -> None:
    from acd.commands.stream import ANSWER_WITHIN_S
    from api.deps import AppDeps
    from pbx.link import AmiLink

    # A three-way call sends two actions; each may take the link's whole action timeout.
    action_timeout = inspect.signature(AmiLink).parameters["action_timeout"].default
    assert 2 * action_timeout < ANSWER_WITHIN_S
    assert AppDeps.__dataclass_fields__["command_timeout_s"].default > ANSWER_WITHIN_S
