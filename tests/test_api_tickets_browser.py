"""The 工单 pages in a real headless Chromium against a real uvicorn, used as a dispatcher, a
street office (承办单位) and the 回访 desk work one ticket round the whole loop, and as a
citizen checks its status. Screenshots (1920x1080) go to test-artifacts/."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from api.app import create_app
from api.services import users
from tests.api_support import CHEAP_HASH, PASSWORD, Api, api, backend, once, served  # noqa: F401
from tests.attachment_files import JPEG, pdf
from tests.test_api_browser import browser, shot  # noqa: F401
from tickets.lifecycle import Action, Command, Role
from tickets.loop import Actor, act
from tickets.service import create_ticket
from tickets.units import load_units, seed_units, set_member

pytestmark = pytest.mark.slow
expect.set_options(timeout=15_000)
CALLER = "13812345678"


@dataclass(frozen=True)
class Draft:
    summary: str
    category: str = "城乡建设·道路维修"
    request_type: str = "投诉"
    location: str | None = "雁塔区丈八沟街道"
    urgent: bool = False
    department: str | None = None
    tier_days: int = 3


async def login(browser: Browser, url: str, username: str) -> Page:
    page = await browser.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # A refused step (the 422 of an empty reply) is logged by Chromium as a failed load: only
    # script errors count here.
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto(url)
    await page.fill("#login input[name=username]", username)
    await page.fill("#login input[name=password]", PASSWORD)
    await page.click("#login button[type=submit]")
    await expect(page.locator("#app")).to_be_visible()
    return page


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


async def _row(page: Page, number: str) -> None:
    await page.locator("#list tr", has_text=number).click()
    await expect(page.locator("#d-number")).to_have_text(number)


async def test_one_ticket_round_the_loop_in_the_pages(
    once: None, api: Api, browser: Browser, tmp_path: Path
) -> None:
    async with api.sessions() as s:
        units = await seed_units(s, load_units())
        main = await create_ticket(
            s,
            Draft("丈八沟街道｜道路维修｜路面塌陷"),
            call_id="c1",
            caller_number=CALLER,
            enterprise=True,
        )
        dup = await create_ticket(
            s,
            Draft("丈八沟街道｜道路维修｜路面塌陷有坑"),
            call_id="c2",
            caller_number="13900001111",
        )
        late = await create_ticket(
            s,
            Draft("丈八沟街道｜路灯不亮", location="丈八沟街道某小区"),
            call_id="c3",
            caller_number="13900002222",
        )
        # dispatched 20 days ago and never signed: overdue in the unit's inbox whenever the
        # suite runs (three days ago, on a Sunday evening, was a Thursday after close of
        # business, and its one working day to sign ran until Monday)
        disp = Actor("disp", Role.DISPATCHER)
        street = units["雁塔区丈八沟街道"]
        await act(
            s,
            late.id,
            Command(Action.DISPATCH, Role.DISPATCHER, units=(street,)),
            disp,
            now=datetime.now(UTC) - timedelta(days=20),
        )
    user = await users.create(api.sessions, "jd", PASSWORD, "unit", None, password_hash=CHEAP_HASH)
    async with api.sessions() as s:
        await set_member(s, user.id, "雁塔区丈八沟街道")
    assert main.number and dup.number and late.number

    # 办结 attachments are written under a data dir of the test's own.
    app = create_app(replace(api.deps, attachments_dir=tmp_path / "data"))
    async with served(app) as base:
        dispatcher = await login(browser, f"{base}/tickets", "disp")
        await expect(dispatcher.locator("#list tr")).to_have_count(2)
        # the newer report repeats the older one: merged into it
        await _row(dispatcher, dup.number)
        await expect(dispatcher.locator("#d-dups tr")).to_have_count(1)
        await dispatcher.click(f"[data-merge='{main.id}']")
        await expect(dispatcher.locator("#d-message")).to_have_text(f"已合并到 {main.number}")
        await expect(dispatcher.locator("#list tr")).to_have_count(1)
        await _row(dispatcher, main.number)
        await dispatcher.click("#a-dispatch")  # no lead unit chosen: told, nothing sent
        await expect(dispatcher.locator("#d-error")).to_have_text("请选择主办单位")
        await dispatcher.select_option("#a-lead", str(street))
        await dispatcher.select_option("#a-assist", [str(units["市城市管理局"])])
        await shot(dispatcher, "tickets-dispatcher-dispatch")
        await dispatcher.click("#a-dispatch")
        await expect(dispatcher.locator("#d-message")).to_have_text("已派单")
        await expect(dispatcher.locator("#d-fields")).to_contain_text(
            "雁塔区丈八沟街道（主办），市城市管理局（协办）"
        )

        unit = await login(browser, f"{base}/tickets", "jd")
        await expect(unit.locator("#list tr")).to_have_count(2)
        await expect(unit.locator("#list tr.overdue")).to_have_count(1)
        await expect(unit.locator("#list tr.overdue")).to_contain_text(late.number)
        await expect(unit.locator("#list tr", has_text=main.number)).to_contain_text("剩 ")
        await shot(unit, "tickets-unit-inbox")
        await _row(unit, main.number)
        await unit.click("#a-sign")
        await expect(unit.locator("#d-message")).to_have_text("已签收")
        await unit.fill("[name=ext-reason]", "需协调施工单位")
        await unit.click("#a-extend")
        await expect(unit.locator("#d-message")).to_have_text("延期申请已提交")

        await dispatcher.click("[data-tab=办理中]")
        await expect(dispatcher.locator("#list tr", has_text=main.number)).to_contain_text(
            "延期待批"
        )
        await _row(dispatcher, main.number)
        await dispatcher.click("#a-approve")
        await expect(dispatcher.locator("#d-message")).to_have_text("已同意延期")

        await unit.click("[data-tab=办理中]")
        await _row(unit, main.number)
        await unit.click("#a-reply")  # empty: refused with the reason, nothing lost
        await expect(unit.locator("#d-error")).to_have_text("办结须填写办理结果")
        await unit.fill("[name=reply]", "已修复塌陷路面")
        # A page saved as a photo is refused by its bytes; the ticket stays as it was.
        fake = {"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": b"<html>x</html>"}
        await unit.set_input_files("#a-files", [fake])
        await unit.click("#a-reply")
        await expect(unit.locator("#d-error")).to_contain_text("第 1 个附件的类型不支持")
        report = {"name": "验收报告.pdf", "mimeType": "application/pdf", "buffer": pdf()}
        photo = {"name": "路面.jpg", "mimeType": "image/jpeg", "buffer": JPEG}
        await unit.set_input_files("#a-files", [photo, report])
        await unit.click("#a-reply")
        await expect(unit.locator("#d-message")).to_have_text("已办结（附件 2 个）")
        await expect(unit.locator("#d-files li")).to_have_count(2)
        await expect(unit.locator("#d-files")).to_contain_text("路面.jpg")
        await expect(unit.locator("#d-files")).to_contain_text("验收报告.pdf")
        await shot(unit, "tickets-unit-reply-attachments")

        desk = await login(browser, f"{base}/visits", "seat1")
        await desk.locator("#list tr", has_text=main.number).click()
        await expect(desk.locator("#d-fields")).to_contain_text("已修复塌陷路面")
        await expect(desk.locator("#d-fields")).to_contain_text("验收报告.pdf")
        # One click queues the automated visit for the city's controller (none runs here);
        # a second click finds the same visit. The seat then phones and records by hand.
        await desk.click("#call-ivr")
        await expect(desk.locator("#d-message")).to_have_text("已发起自动语音回访，等待外呼")
        await desk.click("#call-ivr")
        await expect(desk.locator("#d-message")).to_have_text("已在进行：自动语音回访，等待外呼")
        await expect(desk.locator("#d-calls tr")).to_have_count(1)
        await expect(desk.locator("#d-calls tr")).to_contain_text("自动语音")
        await expect(desk.locator("#recent tr")).to_have_count(1)
        await shot(desk, "tickets-visit-desk")
        await desk.click("[data-sat=不满意]")
        await expect(desk.locator("#d-message")).to_have_text("已记录不满意，工单退回承办单位重办")
        await expect(desk.locator("#list tr")).to_have_count(0)

        await unit.reload()
        await unit.click("[data-tab=办理中]")
        await _row(unit, main.number)
        await unit.fill("[name=reply]", "重新铺设并验收")
        await unit.click("#a-reply")
        await expect(unit.locator("#d-message")).to_have_text("已办结")

        await desk.reload()
        await desk.locator("#list tr", has_text=main.number).click()
        await desk.click("[data-sat=满意]")
        await expect(desk.locator("#d-message")).to_have_text("已记录：满意")

        await dispatcher.click("[data-tab=已回访]")
        await _row(dispatcher, main.number)
        # The unit's files of its first reply, downloaded as they were sent.
        await expect(dispatcher.locator("#d-files li")).to_have_count(2)
        async with dispatcher.expect_download() as fetched:
            await dispatcher.locator("#d-files a", has_text="验收报告.pdf").click()
        download = await fetched.value
        assert download.suggested_filename == "验收报告.pdf"
        assert _bytes(await download.path()) == report["buffer"]
        await dispatcher.click("#a-close")
        await expect(dispatcher.locator("#d-message")).to_have_text("已销号")
        await expect(dispatcher.locator("#d-events li")).to_have_count(9)
        await shot(dispatcher, "tickets-dispatcher-closed")
        await dispatcher.click("[data-tab=清零]")
        await expect(dispatcher.locator("#clearance tbody tr")).to_have_count(1)
        await expect(dispatcher.locator("#clearance tbody")).to_contain_text("雁塔区丈八沟街道")

        citizen = await browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        await citizen.goto(f"{base}/lookup")
        await citizen.fill("[name=number]", main.number)
        await citizen.fill("[name=last4]", "0000")
        await citizen.click("button[type=submit]")
        await expect(citizen.locator("#error")).to_contain_text("没有找到该工单")
        await citizen.fill("[name=last4]", "5678")
        await citizen.click("button[type=submit]")
        await expect(citizen.locator("#r-fields")).to_contain_text("已办结")
        await expect(citizen.locator("#r-fields")).to_contain_text("重新铺设并验收")
        assert CALLER not in await citizen.content()
        await shot(citizen, "tickets-citizen-lookup")
        for page in (dispatcher, unit, desk):
            assert page.errors == [], page.errors  # type: ignore[attr-defined]
