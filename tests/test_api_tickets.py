"""The 工单 loop over real HTTP through the ASGI app (real Redis, real database): a dispatcher
dispatches, a unit signs and replies, the 回访 desk visits, the dispatcher closes; each refusal
with its status and stable code; a unit scoped to its own tickets; the citizen's lookup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from api.services import users
from tests.api_support import CHEAP_HASH, PASSWORD, Api, api, backend  # noqa: F401
from tickets.service import create_ticket
from tickets.units import load_units, seed_units, set_member

CALLER = "13812345678"


@dataclass(frozen=True)
class Draft:
    category: str = "城乡建设·道路维修"
    request_type: str = "投诉"
    summary: str = "雁塔区丈八沟街道｜道路维修｜路面塌陷"
    location: str | None = "雁塔区丈八沟街道"
    urgent: bool = False
    department: str | None = None
    tier_days: int = 3


async def _setup(api: Api, enterprise: bool = True) -> tuple[int, dict[str, int]]:
    async with api.sessions() as s:
        ids = await seed_units(s, load_units())
        t = await create_ticket(
            s, Draft(), call_id="c-api", caller_number=CALLER, enterprise=enterprise
        )
    for name, unit in (("jd-zbg", "雁塔区丈八沟街道"), ("jd-nym", "碑林区南院门街道")):
        user = await users.create(
            api.sessions, name, PASSWORD, "unit", None, password_hash=CHEAP_HASH
        )
        async with api.sessions() as s:
            await set_member(s, user.id, unit)
        resp = await api.login(name)
        assert resp.status_code == 200, resp.text
        api.tokens[name] = resp.json()["token"]
    return t.id, ids


async def _act(api: Api, who: str, tid: int, **body: object) -> httpx.Response:
    return await api.client.post(f"/api/tickets/{tid}/actions", headers=api.as_(who), json=body)


async def test_the_loop_over_http(api: Api) -> None:
    tid, units = await _setup(api)
    street = units["雁塔区丈八沟街道"]
    disp = api.role("dispatcher")
    listed = await api.client.get("/api/tickets?state=受理", headers=disp)
    assert [t["id"] for t in listed.json()["items"]] == [tid]
    resp = await _act(api, "disp", tid, action="dispatch", units=[street])
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "已派单"
    assert resp.json()["units"] == [{"unit_id": street, "name": "雁塔区丈八沟街道", "role": "主办"}]
    inbox = await api.client.get("/api/tickets", headers=api.as_("jd-zbg"))
    assert [t["id"] for t in inbox.json()["items"]] == [tid]
    # the other street sees nothing, and cannot touch it
    other = await api.client.get("/api/tickets", headers=api.as_("jd-nym"))
    assert other.json()["items"] == []
    resp = await _act(api, "jd-nym", tid, action="sign")
    assert resp.status_code == 404 and resp.json()["code"] == "ticket_not_found"
    assert (await _act(api, "jd-zbg", tid, action="sign")).json()["status"] == "办理中"
    resp = await _act(api, "jd-zbg", tid, action="reply")
    assert resp.status_code == 422 and resp.json()["detail"] == "办结须填写办理结果"
    resp = await _act(api, "jd-zbg", tid, action="reply", reason="已修复塌陷路面")
    assert resp.json()["status"] == "已办结"
    resp = await _act(api, "disp", tid, action="close")
    assert resp.status_code == 409 and resp.json()["code"] == "ticket_wrong_state"
    due = await api.client.get("/api/visits", headers=api.as_("seat1"))
    assert [t["id"] for t in due.json()["items"]] == [tid]
    resp = await _act(api, "seat1", tid, action="visit", satisfaction="满意")
    assert resp.json()["status"] == "已回访"
    assert (await api.client.get("/api/visits", headers=api.as_("seat1"))).json()["items"] == []
    resp = await _act(api, "disp", tid, action="close")
    assert resp.json()["status"] == "已销号"
    steps = [(e["action"], e["actor"]) for e in resp.json()["events"]]
    assert steps == [
        ("dispatch", "disp"),
        ("sign", "jd-zbg"),
        ("reply", "jd-zbg"),
        ("visit", "seat1"),
        ("close", "disp"),
    ]


async def test_roles_and_bad_input(api: Api) -> None:
    tid, units = await _setup(api)
    resp = await _act(api, "seat1", tid, action="dispatch", units=[units["碑林区"]])
    assert resp.status_code == 403 and resp.json()["code"] == "ticket_wrong_role"
    resp = await api.client.get("/api/tickets", headers=api.role("qa"))
    assert resp.status_code == 403
    resp = await api.client.get("/api/tickets", headers=api.as_("seat1"))
    assert resp.status_code == 403
    resp = await _act(api, "disp", tid, action="fly")
    assert resp.status_code == 422
    resp = await _act(api, "disp", tid, action="dispatch", units=[99999])
    assert resp.status_code == 422 and resp.json()["code"] == "ticket_unknown_unit"
    resp = await _act(api, "disp", tid, action="dispatch", units=[1], extra=1)
    assert resp.status_code == 422
    resp = await _act(api, "disp", 424242, action="close")
    assert resp.status_code == 404
    resp = await api.client.get("/api/tickets/1/actions", headers=api.role("dispatcher"))
    assert resp.status_code == 405
    resp = await api.client.get(
        "/api/tickets-clearance?month=2026-13", headers=api.role("dispatcher")
    )
    assert resp.status_code == 422


async def test_extension_return_and_clearance(api: Api) -> None:
    tid, units = await _setup(api, enterprise=False)
    street = units["雁塔区丈八沟街道"]
    await _act(api, "disp", tid, action="dispatch", units=[street])
    await _act(api, "jd-zbg", tid, action="sign")
    before = (await api.client.get(f"/api/tickets/{tid}", headers=api.as_("jd-zbg"))).json()
    resp = await _act(
        api, "jd-zbg", tid, action="request_extension", reason="需协调施工单位", extension_days=3
    )
    assert resp.json()["due_at"] == before["due_at"] and resp.json()["extension_days"] == 3
    resp = await _act(api, "disp", tid, action="decide_extension", approve=True)
    assert resp.json()["due_at"] > before["due_at"] and resp.json()["extension_days"] == 0
    assert resp.json()["events"][-1]["detail"] == {"approved": True, "moved_days": 3}
    resp = await _act(api, "jd-zbg", tid, action="return", reason="不属于本街道辖区")
    assert (resp.status_code, resp.json()["status"], resp.json()["returns"]) == (200, "已退单", 1)
    month = datetime.now(UTC).strftime("%Y-%m")
    rows = (
        await api.client.get(
            f"/api/tickets-clearance?month={month}", headers=api.role("dispatcher")
        )
    ).json()
    assert rows == [
        {"unit_id": None, "unit_name": "未派单", "open": 1, "overdue": 0, "unsatisfied": 0}
    ]


async def test_public_lookup_is_limited_and_reveals_no_phone(api: Api) -> None:
    tid, _ = await _setup(api)
    number = (await api.client.get(f"/api/tickets/{tid}", headers=api.role("dispatcher"))).json()[
        "number"
    ]
    resp = await api.client.get(f"/api/public/tickets/{number}?last4=5678")
    assert resp.status_code == 200 and resp.json()["status"] == "已受理"
    assert CALLER not in resp.text
    resp = await api.client.get(f"/api/public/tickets/{number}?last4=0000")
    assert resp.status_code == 404 and "手机号后四位" in resp.json()["detail"]
    resp = await api.client.get(f"/api/public/tickets/{number}?last4=abcd")
    assert resp.status_code == 422
    codes = [
        (await api.client.get(f"/api/public/tickets/{number}?last4=1111")).status_code
        for _ in range(20)
    ]
    assert codes[-1] == 429 and codes.count(404) == 17  # 20 a minute; three were used above
    assert (await api.client.get(f"/api/public/tickets/{number}?last4=5678")).status_code == 429


async def test_visit_calls_are_role_checked_and_only_for_a_reply(api: Api) -> None:
    tid, _ = await _setup(api)
    path = f"/api/visits/{tid}/calls"
    resp = await api.client.post(path, headers=api.as_("jd-zbg"), json={"mode": "ivr"})
    assert resp.status_code == 403
    resp = await api.client.post(path, headers=api.role("qa"), json={"mode": "ivr"})
    assert resp.status_code == 403
    resp = await api.client.post(path, headers=api.as_("seat1"), json={"mode": "ivr"})
    assert resp.status_code == 409 and resp.json()["code"] == "ticket_wrong_state"  # 受理
    resp = await api.client.post(path, headers=api.as_("seat1"), json={"mode": "robot"})
    assert resp.status_code == 422
    resp = await api.client.post(path, headers=api.as_("seat1"), json={"mode": "ivr", "city": "zz"})
    assert resp.status_code == 403
    resp = await api.client.post(
        "/api/visits/424242/calls", headers=api.as_("seat1"), json={"mode": "ivr"}
    )
    assert resp.status_code == 404
    assert (await api.client.get(path, headers=api.as_("seat1"))).json() == []
    assert (await api.client.get("/api/visit-calls", headers=api.as_("jd-zbg"))).status_code == 403
