"""The public intake page (/intake) in a real headless Chromium on a phone-sized screen against
a real uvicorn, real Redis and a real database: a citizen writes a 诉求 with a place, the
browser's position and photos (a large one shrunk in the page), asks for the code, types the
code the log sender wrote, gets the ticket number and finds the ticket on the lookup page; then
the same phone runs into the limit, a code expires, and a body over the cap is refused, each
with its Chinese message. Screenshots (375 px wide) go to test-artifacts/."""

from __future__ import annotations

import logging
import math
import re
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    FilePayload,
    Geolocation,
    Page,
    ViewportSize,
    expect,
)
from sqlalchemy import select

from api.app import STATIC, create_app
from intake.guard import Limits
from intake.models import IntakeMessage
from intake.photos import MAX_PHOTO_BYTES, MAX_PHOTOS
from intake.service import MAX_TEXT
from store import keys
from tests.api_support import Api, api, backend, once, served  # noqa: F401
from tests.test_api_browser import browser, shot  # noqa: F401
from tests.test_api_intake import GAS, PHONE, _code
from tickets.departments import load_departments
from tickets.models import Ticket
from tickets.service import seed_departments

PHONE_SCREEN = ViewportSize(width=375, height=740)
HERE = Geolocation(latitude=34.2235, longitude=108.9471)
PAGE_FILES = ("intake.html", "intake.js", "intake_photos.js", "intake.css")


def _png(width: int, height: int, pixel: bytes | None = None, level: int = 0) -> bytes:
    """An RGB PNG: a gradient when no pixel is given; stored (level 0) it is as large as a
    camera's photo, which the page must shrink before it sends it."""

    xs = bytes(x % 256 for x in range(width))

    def row(y: int) -> bytes:
        if pixel is not None:
            return b"\x00" + pixel * width
        line = bytearray(3 * width)
        line[0::3], line[1::3], line[2::3] = xs, bytes([y % 256]) * width, b"\x80" * width
        return b"\x00" + bytes(line)

    raw = b"".join(row(y) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(raw, level))
        + chunk(b"IEND", b"")
    )


def _js_const(name: str, text: str) -> int:
    found = re.search(rf"const {name} = ([0-9 *]+);", text)
    assert found, name
    return math.prod(int(factor) for factor in found.group(1).split("*"))


async def test_page_limits_follow_the_api_and_need_nothing_from_outside(api: Api) -> None:
    photos_js = (STATIC / "intake_photos.js").read_text(encoding="utf-8")
    assert _js_const("PHOTO_MAX_COUNT", photos_js) == MAX_PHOTOS
    assert _js_const("PHOTO_MAX_BYTES", photos_js) == MAX_PHOTO_BYTES
    assert _js_const("MAX_TEXT", (STATIC / "intake.js").read_text(encoding="utf-8")) == MAX_TEXT
    for name in PAGE_FILES:
        text = (STATIC / name).read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), name  # no CDN
    page = await api.client.get("/intake")  # no login
    assert page.status_code == 200 and "诉求内容" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        assert (await api.client.get(src)).status_code == 200, src


async def _phone_context(browser: Browser, located: bool = True) -> BrowserContext:
    """A phone; ``located``: the citizen lets the page read the position."""
    return await browser.new_context(
        viewport=PHONE_SCREEN,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        permissions=["geolocation"] if located else [],
        geolocation=HERE,
    )


async def _open(context: BrowserContext, url: str) -> Page:
    page = await context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto(url)
    return page


async def _fits_a_phone(page: Page) -> None:
    """Nothing wider than the screen; every visible button and field a thumb can hit."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_SCREEN["width"], width
    small = await page.evaluate(
        """Array.from(document.querySelectorAll('button, input:not([type=file]), textarea, a.button'))
             .filter(e => e.offsetParent !== null)
             .map(e => [e.id || e.textContent, e.getBoundingClientRect().height])
             .filter(([, h]) => h < 40)"""
    )
    assert small == [], small


async def _fill(page: Page, text: str, phone: str) -> None:
    await page.get_by_label("诉求内容").fill(text)
    await page.get_by_label("联系电话").fill(phone)


@pytest.fixture
async def intake(api: Api, tmp_path: Path) -> Api:
    api.app.state.deps = replace(
        api.deps,
        intake_dir=tmp_path / "data",
        intake_limits=Limits(per_ip=10, per_phone=2),
    )
    async with api.sessions() as s:
        await seed_departments(s, load_departments())
    return api


@pytest.mark.slow
async def test_a_citizen_files_a_report_on_a_phone_and_looks_it_up(
    once: None, intake: Api, browser: Browser, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO, logger="intake.guard")
    big = _png(1200, 900)  # 3.1 MB as stored: shrunk to a JPEG in the page
    small = _png(8, 8, pixel=b"\x10\x80\xf0", level=9)  # sent as it is
    assert len(big) > MAX_PHOTO_BYTES
    # Files on disk: the browser reads them itself (a buffer crawls through the protocol).
    (tmp_path / "big.png").write_bytes(big)
    (tmp_path / "small.png").write_bytes(small)
    async with served(intake.app) as base:
        context = await _phone_context(browser)
        page = await _open(context, f"{base}/intake")
        await _fits_a_phone(page)
        await page.click("#send")  # nothing typed: told, nothing sent
        await expect(page.locator("#error")).to_have_text("请填写诉求内容")
        await _fill(page, GAS, "1381234567")
        await page.click("#send")
        await expect(page.locator("#error")).to_have_text("请输入正确的 11 位手机号码")
        await page.get_by_label("联系电话").fill(PHONE)
        await expect(page.locator("#error")).to_have_text("")  # out of date once corrected
        await page.get_by_label("姓名（可选）").fill("王女士")
        await page.get_by_label("位置（可选）").fill("雁塔区小寨东路12号3单元")
        await page.click("#locate")
        await expect(page.locator("#geo-status")).to_contain_text("已获取当前位置（纬度 34.22350")
        await page.set_input_files("#f-photos", [tmp_path / "big.png", tmp_path / "small.png"])
        await expect(page.locator("#photos img")).to_have_count(2)
        await expect(page.locator("#photos li").first).to_contain_text("已压缩 3.1 MB →")
        await _fits_a_phone(page)
        await shot(page, "intake-phone-form")
        await page.click("#send")
        await expect(page.locator("#sent-to")).to_contain_text("验证码已发送至 138****5678")
        code = _code(caplog)
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        await page.get_by_label("验证码").fill(wrong)
        await page.click("#confirm")
        await expect(page.locator("#v-error")).to_have_text(
            "验证码不正确，请核对短信中的 6 位数字后重新输入"
        )
        await page.get_by_label("验证码").fill(code)
        await page.get_by_label("验证码").press("Enter")
        await expect(page.locator("#done")).to_be_visible()
        number = (await page.locator("#ticket-number").text_content()) or ""
        assert re.fullmatch(r"\d{8,20}", number), number
        await expect(page.locator("#done-fields")).to_contain_text("受理")
        await _fits_a_phone(page)
        await shot(page, "intake-phone-done")
        await _stored(intake, number, tmp_path / "data", small)

        await page.click("#lookup-link")
        await expect(page.locator("[name=number]")).to_have_value(number)
        await page.fill("[name=last4]", PHONE[-4:])
        await page.click("button[type=submit]")
        await expect(page.locator("#r-fields")).to_contain_text("受理")
        assert PHONE not in await page.content()

        await _limits_and_expiry(page, intake, base)
        assert page.errors == [], page.errors  # type: ignore[attr-defined]
        await context.close()


async def _stored(a: Api, number: str, data: Path, small: bytes) -> None:
    async with a.sessions() as s:
        ticket = await s.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket is not None and ticket.channel == "web" and ticket.caller_number == PHONE
        assert ticket.urgent and "燃气" in ticket.category
        msg = await s.scalar(select(IntakeMessage).where(IntakeMessage.ticket_id == ticket.id))
    assert msg is not None and msg.name == "王女士" and msg.location == "雁塔区小寨东路12号3单元"
    assert (msg.lat, msg.lon) == (HERE["latitude"], HERE["longitude"])
    assert msg.message_id and msg.message_id.startswith("web-")
    first, second = ((data / p).read_bytes() for p in msg.photos)
    assert first.startswith(b"\xff\xd8\xff") and len(first) <= 800 * 1024  # shrunk to a JPEG
    assert second == small


async def _limits_and_expiry(page: Page, a: Api, base: str) -> None:
    """The phone's second message of the hour is held; its code expires (Redis drops the held
    message at its TTL: here at once); the third message is refused by the phone's limit."""
    await page.goto(f"{base}/intake")
    await _fill(page, GAS, PHONE)
    await page.click("#send")
    await expect(page.locator("#verify")).to_be_visible()
    await expect(page.locator("#resend")).to_be_disabled()  # a minute before another code
    held = [k async for k in a.redis.scan_iter(keys.intake_pending("*"))]
    assert len(held) == 1
    await a.redis.delete(*held)
    await page.get_by_label("验证码").fill("123456")
    await page.click("#confirm")
    await expect(page.locator("#v-error")).to_have_text("验证码已过期，请点击“重新获取验证码”")
    await expect(page.locator("#resend")).to_be_enabled()
    await page.click("#resend")
    await expect(page.locator("#v-error")).to_have_text("该手机号提交过于频繁，请 1 小时后再试")
    await shot(page, "intake-phone-limited")
    await page.click("#edit")
    await expect(page.get_by_label("诉求内容")).to_have_value(GAS)  # nothing typed is lost


@pytest.mark.slow
async def test_a_body_over_the_cap_is_refused_in_chinese(
    once: None, intake: Api, browser: Browser
) -> None:
    app = create_app(replace(intake.app.state.deps, large_bodies=(("/api/intake/", 2048),)))
    async with served(app) as base:
        context = await _phone_context(browser, located=False)
        page = await _open(context, f"{base}/intake")
        await _fill(page, GAS, PHONE)
        await page.click("#locate")  # refused: the typed place is the way left
        await expect(page.locator("#geo-status")).to_have_text("您未允许获取位置，可直接填写地址")
        await expect(page.locator("#unlocate")).to_be_hidden()
        photo = _png(64, 64)  # 12 KB: kept as it is, over the 2 KB cap here
        await page.set_input_files(
            "#f-photos", FilePayload(name="p.png", mimeType="image/png", buffer=photo)
        )
        await expect(page.locator("#photos img")).to_have_count(1)
        await page.click("#send")
        await expect(page.locator("#error")).to_have_text("提交内容过大，请减少照片后重试")
        await page.click("#photos button")  # without the photo it fits
        await page.click("#send")
        await expect(page.locator("#verify")).to_be_visible()
        assert page.errors == [], page.errors  # type: ignore[attr-defined]
        await context.close()
