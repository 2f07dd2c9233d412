"""Every channel into the same tickets, over real HTTP through the ASGI app (real Redis, real
database): the web form and the mini-programs confirmed by the code the log sender wrote, the
SMS gateway, duplicates by message id, 留言 imports (CSV, JSON, XLSX) with bad rows, oversized
bodies and photos, the limits per phone and per address, and the statistics by channel."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from intake.guard import Limits
from intake.models import IntakeMessage
from tests.api_support import Api, api, backend  # noqa: F401
from tickets.departments import load_departments
from tickets.models import Ticket
from tickets.service import seed_departments

PHONE = "13812345678"
GAS = "我家楼道里有很浓的煤气味，在雁塔区小寨东路12号，请尽快派人来看看"
ROAD = "碑林区南稍门十字路口的路面塌了一个大坑，晚上骑车很危险"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
GATEWAY = "gw-secret-token"


@pytest.fixture
async def intake(api: Api, tmp_path: Path) -> Api:
    api.app.state.deps = replace(
        api.deps,
        intake_dir=tmp_path / "data",
        intake_gateway_token=GATEWAY,
        intake_limits=Limits(per_ip=6, per_phone=3),
    )
    async with api.sessions() as s:
        await seed_departments(s, load_departments())
    return api


def _code(caplog: pytest.LogCaptureFixture) -> str:
    sent = [r.getMessage() for r in caplog.records if r.name == "intake.guard"]
    found = re.search(r"验证码为 (\d{6})", sent[-1])
    assert found, sent
    return found.group(1)


async def _ticket(a: Api, number: str) -> tuple[Ticket, IntakeMessage | None]:
    async with a.sessions() as s:
        t = await s.scalar(select(Ticket).where(Ticket.number == number))
        assert t is not None
        m = await s.scalar(select(IntakeMessage).where(IntakeMessage.ticket_id == t.id))
        return t, m


@pytest.mark.parametrize("channel", ["web", "wechat", "alipay", "app"])
async def test_a_confirmed_message_becomes_a_drafted_ticket(
    intake: Api, channel: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="intake.guard")
    body = {"text": GAS, "phone": PHONE, "name": "王女士", "lat": 34.22, "lon": 108.95}
    body["photos"] = [base64.b64encode(PNG).decode()]
    held = await intake.client.post(f"/api/intake/messages/{channel}", json=body)
    assert held.status_code == 202, held.text
    assert "138****5678" in held.json()["message"]
    assert PHONE not in "".join(r.getMessage() for r in caplog.records)  # masked in the log
    code = _code(caplog)
    pending = held.json()["pending_id"]
    wrong = await intake.client.post(
        "/api/intake/confirm",
        json={"pending_id": pending, "code": f"{(int(code) + 1) % 10**6:06d}"},
    )
    assert wrong.status_code == 422 and wrong.json()["code"] == "intake_code_wrong"
    ok = await intake.client.post("/api/intake/confirm", json={"pending_id": pending, "code": code})
    assert ok.status_code == 201, ok.text
    out = ok.json()
    assert out["channel"] == channel and out["status"] == "受理"
    again = await intake.client.post(
        "/api/intake/confirm", json={"pending_id": pending, "code": code}
    )
    assert again.status_code == 422  # one confirmation, one ticket
    assert again.json()["code"] == "intake_code_expired"  # the held message is gone
    ticket, message = await _ticket(intake, out["ticket_number"])
    assert ticket.channel == channel and ticket.caller_number == PHONE
    assert ticket.urgent and "燃气" in ticket.category  # the call's draft builder read it
    assert ticket.due_at - ticket.accepted_at == timedelta(hours=2)
    assert ticket.department_id is not None
    assert message is not None and message.name == "王女士" and message.lat == 34.22
    assert len(message.photos) == 1
    assert (tmp_path / "data" / message.photos[0]).read_bytes() == PNG
    # the staff side reads the channel too
    row = await intake.client.get(f"/api/tickets/{ticket.id}", headers=intake.role("dispatcher"))
    assert row.json()["channel"] == channel


async def test_wrong_codes_use_up_the_tries(intake: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="intake.guard")
    held = await intake.client.post("/api/intake/messages/web", json={"text": ROAD, "phone": PHONE})
    pending, code = held.json()["pending_id"], _code(caplog)
    bad = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        r = await intake.client.post(
            "/api/intake/confirm", json={"pending_id": pending, "code": bad}
        )
        assert r.json()["detail"] == "验证码不正确"
    r = await intake.client.post("/api/intake/confirm", json={"pending_id": pending, "code": code})
    assert r.status_code == 422 and "次数过多" in r.json()["detail"]
    assert r.json()["code"] == "intake_code_tries"
    async with intake.sessions() as s:
        assert await s.scalar(select(func.count(Ticket.id))) == 0


async def test_a_failure_after_the_right_code_loses_nothing(
    intake: Api, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The photos' disk is gone when the code comes back: the confirmation fails, the message
    is held again, and the same code confirms it once the disk is back."""
    caplog.set_level(logging.INFO, logger="intake.guard")
    body = {"text": ROAD, "phone": PHONE, "photos": [base64.b64encode(PNG).decode()]}
    held = await intake.client.post("/api/intake/messages/web", json=body)
    confirm = {"pending_id": held.json()["pending_id"], "code": _code(caplog)}
    working = intake.app.state.deps
    not_a_dir = tmp_path / "not-a-dir"
    not_a_dir.write_text("a file where the data dir should be")
    intake.app.state.deps = replace(working, intake_dir=not_a_dir / "data")
    with pytest.raises(NotADirectoryError):
        await intake.client.post("/api/intake/confirm", json=confirm)
    async with intake.sessions() as s:
        assert await s.scalar(select(func.count(Ticket.id))) == 0
    intake.app.state.deps = working
    ok = await intake.client.post("/api/intake/confirm", json=confirm)
    assert ok.status_code == 201, ok.text
    _, message = await _ticket(intake, ok.json()["ticket_number"])
    assert message is not None and len(message.photos) == 1
    assert (tmp_path / "data" / message.photos[0]).read_bytes() == PNG


async def test_sms_gateway_and_duplicates_by_message_id(intake: Api) -> None:
    body = {"phone": PHONE, "text": ROAD, "message_id": "sms-0001"}
    refused = await intake.client.post("/api/intake/sms", json=body)
    assert refused.status_code == 403
    hdr = {"X-Gateway-Token": GATEWAY}
    first = await intake.client.post("/api/intake/sms", json=body, headers=hdr)
    assert first.status_code == 201, first.text
    again = await intake.client.post("/api/intake/sms", json=body, headers=hdr)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["ticket_number"] == first.json()["ticket_number"]
    ticket, _ = await _ticket(intake, first.json()["ticket_number"])
    assert ticket.channel == "sms" and "道路" in ticket.category


async def test_abuse_limits_per_phone_and_per_address(intake: Api) -> None:
    for i in range(3):
        r = await intake.client.post(
            "/api/intake/messages/web", json={"text": ROAD, "phone": PHONE}
        )
        assert r.status_code == 202, (i, r.text)
    r = await intake.client.post("/api/intake/messages/web", json={"text": ROAD, "phone": PHONE})
    assert r.status_code == 429 and "手机号" in r.json()["detail"]
    assert r.json()["code"] == "intake_too_many_phone"
    assert 0 < int(r.headers["Retry-After"]) <= 3600
    # other phones from the same address: the address's limit (6, the refused one counted)
    codes = []
    for n in range(3):
        r = await intake.client.post(
            "/api/intake/messages/app", json={"text": ROAD, "phone": f"1390000000{n}"}
        )
        codes.append(r.status_code)
    assert codes == [202, 202, 429]
    assert r.json()["code"] == "intake_too_many_ip"


async def test_oversized_and_bad_bodies(intake: Api) -> None:
    big_photo = base64.b64encode(b"\xff\xd8\xff" + b"\x00" * (2 * 1024 * 1024)).decode()
    r = await intake.client.post(
        "/api/intake/messages/web", json={"text": ROAD, "phone": PHONE, "photos": [big_photo]}
    )
    assert r.status_code == 422  # over the photo's cap, before anything is held
    r = await intake.client.post(
        "/api/intake/messages/web",
        json={
            "text": ROAD,
            "phone": "13900000001",
            "photos": [base64.b64encode(b"GIF89a").decode()],
        },
    )
    assert r.status_code == 422 and "JPEG 或 PNG" in r.json()["detail"]
    r = await intake.client.post(
        "/api/intake/messages/web", json={"text": "长" * 2001, "phone": PHONE}
    )
    assert r.status_code == 422
    r = await intake.client.post(
        "/api/intake/messages/web",
        content=b'{"text": "' + b"x" * (10 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    r = await intake.client.post("/api/intake/messages/fax", json={"text": ROAD, "phone": PHONE})
    assert r.status_code == 422
    r = await intake.client.post("/api/intake/messages/web", json={"text": ROAD, "phone": "110"})
    assert r.status_code == 422


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_imports_are_idempotent_and_report_bad_rows(intake: Api) -> None:
    disp = intake.role("dispatcher")
    csv_body = (
        "留言编号,留言内容,联系电话,姓名,留言时间\n"
        f"rm-1,{ROAD},13800000001,张先生,2026-12-01T09:30:00+08:00\n"
        "rm-2,,13800000002,李女士,\n"
        f"rm-3,{GAS},not-a-phone,,\n"
        f"rm-4,{GAS},13800000004,,yesterday\n"
        f"rm-5,{GAS},13800000005,,\n"
    ).encode()
    url = "/api/intake/imports?platform=renmin&format=csv"
    r = await intake.client.post(url, content=csv_body, headers=disp)
    assert r.status_code == 200, r.text
    out = r.json()
    assert len(out["created"]) == 2 and out["duplicates"] == []
    assert [(b["line"], b["reason"][:4]) for b in out["bad"]] == [
        (3, "诉求内容"),
        (4, "联系电话"),
        (5, "留言时间"),
    ]
    again = (await intake.client.post(url, content=csv_body, headers=disp)).json()
    assert again["created"] == [] and [d["message_id"] for d in again["duplicates"]] == [
        "rm-1",
        "rm-5",
    ]
    # the same ids on another platform are other messages
    items = [{"id": "rm-1", "content": ROAD, "phone": "13800000009"}, "not an object"]
    r = await intake.client.post(
        "/api/intake/imports?platform=province&format=json", content=json.dumps(items), headers=disp
    )
    assert len(r.json()["created"]) == 1 and r.json()["bad"][0]["line"] == 2
    sheet = _xlsx(
        [
            ["message_id", "text", "phone", "received_at"],
            ["x-1", GAS, "13800000011", datetime(2026, 12, 2, 8, 0)],
            ["x-1", GAS, "13800000011", None],
            [None, ROAD, "13800000012", None],
        ]
    )
    r = await intake.client.post(
        "/api/intake/imports?platform=renmin&format=xlsx", content=sheet, headers=disp
    )
    out = r.json()
    assert len(out["created"]) == 1 and out["duplicates"][0]["line"] == 3
    assert out["bad"] == [{"line": 4, "reason": "缺少留言编号"}]
    async with intake.sessions() as s:
        imported = await s.get(Ticket, out["created"][0])
        assert imported is not None and imported.channel == "platform"
        msg = await s.scalar(select(IntakeMessage).where(IntakeMessage.message_id == "x-1"))
        assert msg is not None and msg.received_at == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    r = await intake.client.post(
        "/api/intake/imports?platform=renmin&format=xlsx", content=b"not a zip", headers=disp
    )
    assert r.status_code == 422 and r.json()["code"] == "intake_batch_refused"
    seat = await intake.client.post(url, content=csv_body, headers=intake.role("seat"))
    assert seat.status_code == 403


async def test_statistics_by_channel_with_direct_answer_rate(intake: Api) -> None:
    hdr = {"X-Gateway-Token": GATEWAY}
    numbers = []
    for i, text in enumerate((ROAD, GAS)):
        body = {"phone": f"1370000000{i}", "text": text, "message_id": f"s{i}"}
        numbers.append((await intake.client.post("/api/intake/sms", json=body, headers=hdr)).json())
    csv_body = f"message_id,text,phone\nm1,{ROAD},13800000001\n".encode()
    await intake.client.post(
        "/api/intake/imports?platform=renmin&format=csv",
        content=csv_body,
        headers=intake.role("admin"),
    )
    first, _ = await _ticket(intake, numbers[0]["ticket_number"])
    r = await intake.client.post(
        f"/api/tickets/{first.id}/actions",
        headers=intake.role("seat"),
        json={"action": "direct_answer", "reason": "已告知维修热线"},
    )
    assert r.status_code == 200, r.text
    now = datetime.now(UTC)
    q = {
        "since": (now - timedelta(hours=1)).isoformat(),
        "until": (now + timedelta(hours=1)).isoformat(),
    }
    r = await intake.client.get("/api/tickets-stats", params=q, headers=intake.role("dispatcher"))
    assert r.status_code == 200, r.text
    rows = {row["group"]["channel"]: row for row in r.json()}
    assert rows["sms"]["total"] == 2 and rows["sms"]["direct_answers"] == 1
    assert rows["sms"]["direct_answer_rate"] == 0.5 and rows["sms"]["label"] == "短信"
    assert rows["platform"]["total"] == 1 and rows["platform"]["direct_answer_rate"] == 0
    both = await intake.client.get(
        "/api/tickets-stats",
        params={**q, "by": ["channel", "status"]},
        headers=intake.role("admin"),
    )
    assert {(x["group"]["channel"], x["group"]["status"]) for x in both.json()} == {
        ("sms", "已办结"),
        ("sms", "受理"),
        ("platform", "受理"),
    }
    bad = await intake.client.get(
        "/api/tickets-stats", params={**q, "by": "caller_number"}, headers=intake.role("admin")
    )
    assert bad.status_code == 422
    seat = await intake.client.get("/api/tickets-stats", params=q, headers=intake.role("seat"))
    assert seat.status_code == 403
