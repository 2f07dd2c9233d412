"""The 政策知识库 over real HTTP (real Redis, real database): a `knowledge` editor proposes,
another approves, seats get suggestions from draft words (expired entries never), a change
against an old version is refused, CSV/Markdown import and export, and a 直接答复 from an
entry counted in the statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from api.services import users
from tests.api_support import CHEAP_HASH, PASSWORD, Api, api, backend  # noqa: F401
from tests.test_api_tickets import Draft
from tickets.service import create_ticket

GAS = {
    "title": "燃气泄漏应急处置",
    "body": "闻到燃气味时立即关闭燃气总阀，开窗通风，不要开关电器，到室外拨打燃气抢修电话。",
    "category": "公用事业·燃气",
    "valid_from": "2024-01-01T00:00:00+08:00",
    "tags": ["燃气", "泄漏"],
}


async def _editors(a: Api) -> None:
    for name in ("k1", "k2"):
        await users.create(a.sessions, name, PASSWORD, "knowledge", None, password_hash=CHEAP_HASH)
        a.tokens[name] = (await a.login(name)).json()["token"]


async def _publish(a: Api, body: dict[str, object]) -> dict[str, object]:
    rev = await a.client.post("/api/kb/revisions", json=body, headers=a.as_("k1"))
    assert rev.status_code == 201, rev.text
    ok = await a.client.post(
        f"/api/kb/revisions/{rev.json()['id']}/decision",
        json={"approve": True},
        headers=a.as_("k2"),
    )
    assert ok.status_code == 200, ok.text
    return dict(ok.json())


async def _suggest(a: Api, q: str) -> httpx.Response:
    return await a.client.get("/api/kb/suggestions", params={"q": q}, headers=a.role("seat"))


async def test_propose_approve_suggest_and_versions(api: Api) -> None:
    await _editors(api)
    assert (
        await api.client.post("/api/kb/revisions", json=GAS, headers=api.role("seat"))
    ).status_code == 403
    rev = await api.client.post("/api/kb/revisions", json=GAS, headers=api.as_("k1"))
    own = await api.client.post(
        f"/api/kb/revisions/{rev.json()['id']}/decision",
        json={"approve": True},
        headers=api.as_("k1"),
    )
    assert own.status_code == 422 and "自己" in own.json()["detail"]
    assert (await _suggest(api, "家里有煤气味怎么办")).json()["hits"] == []  # not yet published
    approved = await api.client.post(
        f"/api/kb/revisions/{rev.json()['id']}/decision",
        json={"approve": True},
        headers=api.as_("k2"),
    )
    entry_id = approved.json()["entry_id"]
    found = (await _suggest(api, "家里有煤气味怎么办")).json()
    assert [h["id"] for h in found["hits"]] == [entry_id] and found["hint"]
    # an expired entry is never suggested
    await _publish(
        api,
        {
            **GAS,
            "title": "旧燃气补贴",
            "valid_from": "2020-01-01T00:00:00+08:00",
            "valid_to": "2021-01-01T00:00:00+08:00",
        },
    )
    assert [h["id"] for h in (await _suggest(api, "燃气补贴")).json()["hits"]] == [entry_id]
    # two changes of version 1: the second approved is refused
    change = {**GAS, "entry_id": entry_id, "body": GAS["body"] + "（第二版）"}
    first = await api.client.post("/api/kb/revisions", json=change, headers=api.as_("k1"))
    second = await api.client.post("/api/kb/revisions", json=change, headers=api.as_("k1"))
    ok = await api.client.post(
        f"/api/kb/revisions/{first.json()['id']}/decision",
        json={"approve": True},
        headers=api.as_("k2"),
    )
    assert ok.status_code == 200
    late = await api.client.post(
        f"/api/kb/revisions/{second.json()['id']}/decision",
        json={"approve": True},
        headers=api.as_("k2"),
    )
    assert late.status_code == 409 and late.json()["code"] == "kb_conflict"
    shown = await api.client.get(f"/api/kb/entries/{entry_id}", headers=api.role("seat"))
    assert shown.json()["version"] == 2 and shown.json()["body"].endswith("（第二版）")
    assert (
        await api.client.post(f"/api/kb/entries/{entry_id}/withdraw", headers=api.as_("k2"))
    ).status_code == 204
    assert (await _suggest(api, "家里有煤气味怎么办")).json()["hits"] == []


async def test_import_and_export_csv_and_markdown(api: Api) -> None:
    await _editors(api)
    await _publish(api, GAS)
    md = await api.client.get("/api/kb/export?format=md", headers=api.as_("k1"))
    assert md.status_code == 200 and md.text.startswith("## 燃气泄漏应急处置")
    broken = md.text + "\n## 没有分类的条目\n\n正文\n"
    r = await api.client.post(
        "/api/kb/import?format=md", content=broken.encode(), headers=api.as_("k1")
    )
    assert r.json()["proposed"] == 1
    assert r.json()["bad"] == [
        {
            "line": broken.splitlines().index("## 没有分类的条目") + 1,
            "reason": "缺少“- 分类:”或“- 生效:”",
        }
    ]
    csv_text = (await api.client.get("/api/kb/export?format=csv", headers=api.as_("k1"))).text
    csv_text += "无正文,,公用事业·燃气,,2024-01-01T00:00:00+08:00,,,\n"
    r = await api.client.post(
        "/api/kb/import?format=csv", content=csv_text.encode(), headers=api.as_("k1")
    )
    assert r.json()["proposed"] == 1 and r.json()["bad"][0]["line"] == 3
    pending = (await api.client.get("/api/kb/revisions", headers=api.as_("k2"))).json()
    assert [p["title"] for p in pending] == ["燃气泄漏应急处置"] * 2
    assert pending[0]["valid_from"].startswith("2023-12-31T16:00")  # the city's midnight
    assert (
        await api.client.get("/api/kb/export?format=md", headers=api.role("seat"))
    ).status_code == 403


async def test_direct_answer_from_an_entry_counts(api: Api) -> None:
    await _editors(api)
    entry_id = (await _publish(api, GAS))["entry_id"]
    async with api.sessions() as s:
        t1 = await create_ticket(s, Draft(), call_id="c1", caller_number="13800000001")
        t2 = await create_ticket(s, Draft(), call_id="c2", caller_number="13800000002")
    seat = api.role("seat")
    bad = await api.client.post(
        f"/api/tickets/{t1.id}/actions",
        json={"action": "direct_answer", "reason": "已答复", "kb_entry": 999},
        headers=seat,
    )
    assert bad.status_code == 422
    ok = await api.client.post(
        f"/api/tickets/{t1.id}/actions",
        json={"action": "direct_answer", "reason": "按知识库答复", "kb_entry": entry_id},
        headers=seat,
    )
    assert ok.status_code == 200 and ok.json()["kb_entry_id"] == entry_id
    assert ok.json()["direct_answer"] is True and t2.id != t1.id
    now = datetime.now(UTC)
    q = {
        "since": (now - timedelta(hours=1)).isoformat(),
        "until": (now + timedelta(hours=1)).isoformat(),
    }
    rows = (
        await api.client.get("/api/tickets-stats", params=q, headers=api.role("dispatcher"))
    ).json()
    assert rows == [
        {
            "group": {"channel": "phone"},
            "label": "电话",
            "total": 2,
            "direct_answers": 1,
            "kb_answers": 1,
            "direct_answer_rate": 0.5,
        }
    ]


async def test_history_filters_and_a_rejection_needs_a_reason(api: Api) -> None:
    await _editors(api)
    first = await _publish(api, GAS)
    entry_id = first["entry_id"]
    await _publish(
        api,
        {
            **GAS,
            "title": "旧燃气补贴",
            "valid_from": "2020-01-01T00:00:00+08:00",
            "valid_to": "2021-01-01T00:00:00+08:00",
        },
    )
    change = {**GAS, "entry_id": entry_id, "body": "关闭燃气总阀后拨打96777。"}
    rev = (await api.client.post("/api/kb/revisions", json=change, headers=api.as_("k1"))).json()
    decision = f"/api/kb/revisions/{rev['id']}/decision"
    bare = await api.client.post(decision, json={"approve": False}, headers=api.as_("k2"))
    assert bare.status_code == 422 and "理由" in bare.json()["detail"]
    no = await api.client.post(
        decision, json={"approve": False, "note": "号码须核实"}, headers=api.as_("k2")
    )
    assert no.status_code == 200 and no.json()["state"] == "rejected"
    history = await api.client.get(f"/api/kb/entries/{entry_id}/revisions", headers=api.as_("k1"))
    assert [(r["state"], r["note"]) for r in history.json()] == [
        ("rejected", "号码须核实"),
        ("approved", ""),
    ]
    assert history.json()[0]["decided_at"] is not None
    seat_history = f"/api/kb/entries/{entry_id}/revisions"
    assert (await api.client.get(seat_history, headers=api.role("seat"))).status_code == 403
    missing = await api.client.get("/api/kb/entries/999/revisions", headers=api.as_("k1"))
    assert missing.status_code == 404
    # the editors' list holds expired entries too; filters by title part and category
    listed = await api.client.get(
        "/api/kb/entries", params={"title": "补贴"}, headers=api.as_("k1")
    )
    assert [e["title"] for e in listed.json()] == ["旧燃气补贴"]
    other = await api.client.get(
        "/api/kb/entries", params={"category": "医保"}, headers=api.as_("k1")
    )
    assert other.json() == []
    literal = await api.client.get("/api/kb/entries", params={"title": "%"}, headers=api.as_("k1"))
    assert literal.json() == []  # a LIKE wildcard is a character, not a pattern
