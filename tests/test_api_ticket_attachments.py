"""办结 with attachments over real HTTP through the ASGI app (real Redis, real database, files
on disk): the unit uploads with its reply, the files are listed on the ticket and downloaded
by those who may see it; limits, forged kinds, broken files, hostile names and refused steps
leave nothing behind."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from tests.api_support import Api, api, backend  # noqa: F401
from tests.attachment_files import JPEG, docx, pdf, png
from tests.test_api_tickets import _act, _setup
from tickets.attachments import Limits

LIMITS = Limits(max_file_bytes=64 * 1024, max_files=3, max_reply_bytes=100 * 1024)


@pytest.fixture
async def files_api(api: Api, tmp_path: Path) -> AsyncIterator[Api]:
    """The app with a data dir for attachments and small limits (the same Redis, database
    and sessions, so the tokens of ``api`` hold)."""
    deps = replace(api.deps, attachments_dir=tmp_path / "data", attachment_limits=LIMITS)
    app = create_app(deps)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client, app, deps, api.redis, api.sessions, api.tokens)


async def _signed(api: Api) -> int:
    tid, units = await _setup(api)
    await _act(api, "disp", tid, action="dispatch", units=[units["雁塔区丈八沟街道"]])
    assert (await _act(api, "jd-zbg", tid, action="sign")).json()["status"] == "办理中"
    return tid


async def _reply(
    api: Api, who: str, tid: int, files: list[tuple[str, bytes, str]], reason: str = "已修复路面"
) -> httpx.Response:
    return await api.client.post(
        f"/api/ticket-replies/{tid}",
        headers=api.as_(who),
        data={"reason": reason},
        files=[("files", f) for f in files],
    )


def _stored(api: Api) -> list[Path]:
    root = api.deps.attachments_dir
    assert root is not None
    return sorted(p for p in root.rglob("*") if p.is_file())


async def test_reply_with_files_listed_and_downloaded(files_api: Api) -> None:
    api = files_api
    tid = await _signed(api)
    sent = [
        ("../../../etc/passwd", JPEG, "text/plain"),  # the name and the claimed type are lies
        ("验收报告.pdf", pdf(), "application/pdf"),
        ("整改方案.docx", docx(), "application/octet-stream"),
    ]
    resp = await _reply(api, "jd-zbg", tid, sent)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["status"], body["reply"]) == ("已办结", "已修复路面")
    shown = [
        (a["name"], a["content_type"], a["size"], a["reply_round"]) for a in body["attachments"]
    ]
    assert shown == [
        ("passwd.jpg", "image/jpeg", len(JPEG), 0),
        ("验收报告.pdf", "application/pdf", len(sent[1][1]), 0),
        (
            "整改方案.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            len(sent[2][1]),
            0,
        ),
    ]
    assert body["attachments"][0]["sha256"] == hashlib.sha256(JPEG).hexdigest()
    assert body["events"][-1]["action"] == "reply"
    # Stored under names of our own, inside the data dir, with the kind's extension.
    stored = _stored(api)
    assert len(stored) == 3 and all(p.parent.parent.name == "tickets" for p in stored)
    assert {p.suffix for p in stored} == {".jpg", ".pdf", ".docx"}
    assert not any("passwd" in p.name or "验收" in p.name for p in stored)
    url = body["attachments"][1]["url"]
    for who in ("jd-zbg", "disp", "seat1", "admin"):
        got = await api.client.get(url, headers=api.as_(who))
        assert got.status_code == 200, (who, got.text)
        assert got.content == sent[1][1]
        assert got.headers["content-type"] == "application/pdf"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-disposition"].startswith("attachment;")
        assert "filename*=utf-8''%E9%AA%8C%E6%94%B6" in got.headers["content-disposition"]
    # The ticket's view lists them for the dispatcher too.
    seen = await api.client.get(f"/api/tickets/{tid}", headers=api.role("dispatcher"))
    assert [a["name"] for a in seen.json()["attachments"]] == [a[0] for a in shown]


async def test_download_is_role_checked_and_hides_other_units_files(files_api: Api) -> None:
    api = files_api
    tid = await _signed(api)
    resp = await _reply(api, "jd-zbg", tid, [("现场.png", png(), "image/png")])
    url = resp.json()["attachments"][0]["url"]
    assert (await api.client.get(url, headers=api.role("qa"))).status_code == 403
    assert (await api.client.get(url)).status_code == 401
    other = await api.client.get(url, headers=api.as_("jd-nym"))  # another street's unit
    missing = await api.client.get("/api/ticket-attachments/424242", headers=api.as_("jd-nym"))
    assert other.status_code == missing.status_code == 404
    # The same answer as for an id that does not exist: existence does not leak.
    assert other.json()["code"] == missing.json()["code"] == "attachment_not_found"
    assert set(other.json()) == set(missing.json()) == {"detail", "code"}
    bad = await api.client.get("/api/ticket-attachments/0", headers=api.role("dispatcher"))
    assert bad.status_code == 422
    # A file gone from disk (or swapped for a link out of the data dir) is not served.
    stored = _stored(api)[0]
    stored.unlink()
    stored.symlink_to("/etc/passwd")
    gone = await api.client.get(url, headers=api.role("dispatcher"))
    assert gone.status_code == 404 and gone.json()["code"] == "attachment_file_missing"


REFUSED: list[tuple[str, list[tuple[str, bytes, str]], int, str]] = [
    ("too many", [("a.jpg", JPEG, "image/jpeg")] * 4, 422, "attachment_too_many"),
    (
        "file too big",
        [("big.jpg", JPEG + b"\x00" * 64 * 1024, "image/jpeg")],
        413,
        "attachment_too_large",
    ),
    (
        "reply too big",
        [("p.pdf", pdf("x" * 50 * 1024), "application/pdf")] * 2,
        413,
        "attachment_reply_too_large",
    ),
    (
        "html",
        [("evil.jpg", b"<html><script>alert(1)</script>", "image/jpeg")],
        422,
        "attachment_type",
    ),
    (
        "exe",
        [("run.pdf", b"MZ\x90\x00" + b"\x00" * 100, "application/pdf")],
        422,
        "attachment_type",
    ),
    ("empty", [("empty.jpg", b"", "image/jpeg")], 422, "attachment_empty"),
    ("cut jpeg", [("cut.jpg", JPEG[:100], "image/jpeg")], 422, "attachment_corrupt"),
    ("cut docx", [("cut.docx", docx()[:-40], "application/msword")], 422, "attachment_corrupt"),
]


async def test_refused_files_change_nothing(files_api: Api) -> None:
    api = files_api
    tid = await _signed(api)
    for what, files, status, code in REFUSED:
        # A good file first: one bad file refuses the whole reply.
        resp = await _reply(api, "jd-zbg", tid, [("ok.png", png(), "image/png"), *files][-4:])
        assert (resp.status_code, resp.json().get("code")) == (status, code), (what, resp.text)
        assert _stored(api) == [], what
        after = await api.client.get(f"/api/tickets/{tid}", headers=api.as_("jd-zbg"))
        assert (after.json()["status"], after.json()["attachments"]) == ("办理中", []), what


async def test_a_refused_step_removes_the_files_it_wrote(files_api: Api) -> None:
    api = files_api
    tid, units = await _setup(api)
    photo = [("现场.jpg", JPEG, "image/jpeg")]
    resp = await _reply(api, "jd-zbg", tid, photo)  # not dispatched: not its ticket
    assert resp.status_code == 404 and resp.json()["code"] == "ticket_not_found"
    await _act(api, "disp", tid, action="dispatch", units=[units["雁塔区丈八沟街道"]])
    resp = await _reply(api, "jd-zbg", tid, photo)  # dispatched but not signed
    assert resp.status_code == 409 and resp.json()["code"] == "ticket_wrong_state"
    resp = await _reply(api, "jd-nym", tid, photo)  # another unit
    assert resp.status_code == 404
    await _act(api, "jd-zbg", tid, action="sign")
    resp = await _reply(api, "jd-zbg", tid, photo, reason="")  # the reply text is required
    assert resp.status_code == 422 and resp.json()["detail"] == "办结须填写办理结果"
    resp = await _reply(api, "jd-zbg", tid, photo, reason="已修复\x00")  # no NUL in text
    assert resp.status_code == 422
    resp = await _reply(api, "jd-zbg", tid, photo, reason="多" * 2001)
    assert resp.status_code == 422
    resp = await _reply(api, "disp", tid, photo)  # only a unit replies
    assert resp.status_code == 403
    assert _stored(api) == []
    # Without files the route is the plain 办结.
    resp = await _reply(api, "jd-zbg", tid, [])
    assert (resp.status_code, resp.json()["attachments"]) == (200, [])


async def test_body_over_the_cap_is_413_before_it_is_read(files_api: Api) -> None:
    api = files_api
    tid = await _signed(api)
    big = ("big.pdf", b"%PDF-" + b"\x00" * LIMITS.body_cap(), "application/pdf")
    resp = await _reply(api, "jd-zbg", tid, [big])
    assert resp.status_code == 413
    # The JSON routes keep the 64 KB cap: the exemption is the reply route's alone.
    resp = await api.client.post(
        f"/api/tickets/{tid}/actions",
        headers=api.as_("jd-zbg"),
        json={"action": "reply", "reason": "x" * 70 * 1024},
    )
    assert resp.status_code == 413


async def test_attachments_refused_without_a_data_dir(api: Api) -> None:
    tid = await _signed(api)
    resp = await _reply(api, "jd-zbg", tid, [("a.jpg", JPEG, "image/jpeg")])
    assert resp.status_code == 422 and resp.json()["code"] == "attachments_disabled"


async def test_a_reopened_ticket_counts_its_next_reply_as_a_new_round(files_api: Api) -> None:
    api = files_api
    tid = await _signed(api)
    first = await _reply(api, "jd-zbg", tid, [("一次.jpg", JPEG, "image/jpeg")])
    assert first.status_code == 200, first.text
    resp = await _act(api, "seat1", tid, action="visit", satisfaction="不满意")
    assert (resp.json()["status"], resp.json()["reopen_count"]) == ("办理中", 1)
    again = await _reply(api, "jd-zbg", tid, [("二次.pdf", pdf(), "application/pdf")], "重新铺设")
    assert [(a["name"], a["reply_round"]) for a in again.json()["attachments"]] == [
        ("一次.jpg", 0),
        ("二次.pdf", 1),
    ]
