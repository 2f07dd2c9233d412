"""A seat's shift and a dispatcher's watch, in a real headless Chromium against a real
uvicorn, with the simulator's callers flowing through the real controller: what staff do
call after call, not only that the pages render. Screenshots (1920x1080) go to
test-artifacts/."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from acd.controller import AcdSettings
from acd.model import SeatState
from acd.models import CallRecord
from acd.service import Acd
from asr.models import CallDraft
from hotline.controller import build
from hotline.settings import AmiEndpoint, City, Settings
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SeatBehaviour, SimPbx
from tests.api_support import PASSWORD, Api, api, backend, once, served  # noqa: F401
from tests.test_api_browser import ARTIFACTS, browser  # noqa: F401
from tests.test_api_seat import DRAFT
from tickets.models import Ticket

pytestmark = pytest.mark.slow
expect.set_options(timeout=20_000)  # the IVR menu plays before a caller queues
FULL_HD = {"width": 1920, "height": 1080}
ANSWERS = SeatBehaviour(answer_after_s=1.0, talk_s=4)


@dataclass
class Town:
    pbx: SimPbx
    base: str


@contextlib.asynccontextmanager
async def town(api: Api, seats: dict[str, SeatBehaviour], **acd: object) -> AsyncIterator[Town]:
    """City xa: the simulated PBX, the real controller on it, and the API served."""
    pbx = SimPbx("xa", seats)
    server = AmiServer(pbx, secret="sim")
    port = await server.start()
    city = City(name="xa", label="西安", ami=AmiEndpoint(port=port, secret="sim"), trunk="trunk-xa")
    settings = AcdSettings(overload_ewt_s=10**9, **acd)  # type: ignore[arg-type]
    link, controller = build(city, Settings(cities=[city]), api.redis, api.sessions, settings)
    await link.start()
    await link.wait_up(20)
    runner = asyncio.create_task(controller.run(tick_s=0.1))
    try:
        async with served(api.app) as base:
            yield Town(pbx, base)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await link.close()
        await server.stop()


async def open_page(browser: Browser, url: str, username: str) -> Page:
    page = await browser.new_page(viewport=FULL_HD, locale="zh-CN")
    page.set_default_timeout(20_000)
    page.on("pageerror", lambda exc: print("page error:", exc))
    await page.goto(url)
    await page.fill("#login input[name=username]", username)
    await page.fill("#login input[name=password]", PASSWORD)
    await page.click("#login button[type=submit]")
    await expect(page.locator("#app")).to_be_visible()
    return page


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def call_id_of(api: Api, number: str) -> str:
    async with api.sessions() as session:
        row = await session.scalar(
            select(CallRecord.call_id)
            .where(CallRecord.caller_num == number)
            .order_by(CallRecord.id.desc())
        )
    assert row is not None
    return row


async def draft_arrives(api: Api, call_id: str, summary: str) -> None:
    """What the ASR worker writes a minute after the call (asr.calldraft's row)."""
    async with api.sessions.begin() as session:
        session.add(CallDraft(call_id=call_id, draft={**DRAFT, "summary": summary}))


async def test_a_seat_works_a_shift(once: None, api: Api, browser: Browser) -> None:
    seats = {"1001": ANSWERS}
    async with town(api, seats, ring_timeout_s=3, wrapup_s={"general": 600}) as t:
        page = await open_page(browser, f"{t.base}/seat", "seat1")
        state, pending, form = (
            page.locator("#state"),
            page.locator("#pending"),
            page.locator("#draft"),
        )
        await page.click("#btn-login")
        await expect(state).to_have_text("小休")
        await page.click("#btn-ready")
        await expect(state).to_have_text("就绪")
        await expect(page.locator("#btn-ready")).to_be_disabled()

        # Call 1: ring, answer, wrap-up with its countdown, the draft comes, confirm it.
        t.pbx.place_call(CallerScript("13800001001", "1", patience_s=120))
        await expect(page.locator("#popup-number")).to_have_text("13800001001")
        await expect(state).to_have_text("通话中")
        await expect(page.locator("#btn-conf")).to_be_enabled()
        await expect(page.locator("#signout")).to_be_disabled()
        await expect(state).to_have_text("话后整理")
        left = page.locator("#wrapup-left")
        await expect(left).to_be_visible()
        await expect(left).to_have_text(re.compile(r"^(0[5-9]|10):\d\d$"))  # 10:00 counting down
        first = await left.text_content()
        await expect(left).not_to_have_text(first or "")  # it counts
        c1 = await call_id_of(api, "13800001001")
        row = pending.locator(f"tr[data-call='{c1}']")
        await expect(row).to_contain_text("草稿生成中")
        await expect(page.locator("#draft-for")).to_contain_text(c1)
        await shot(page, "seat-wrapup-countdown")
        await draft_arrives(api, c1, "楼下工地夜间施工噪音扰民")
        await expect(row).to_contain_text("草稿已生成")
        await expect(form.locator("textarea[name=summary]")).to_have_value(
            "楼下工地夜间施工噪音扰民"
        )
        await expect(page.locator("#draft-message")).to_have_text(
            "草稿已根据通话录音生成，请核对后确认"
        )
        await form.locator("textarea[name=summary]").fill("楼下工地夜间施工噪音扰民（已核实）")
        await page.click("#btn-ticket")
        await expect(page.locator("#draft-message")).to_contain_text("已生成工单")
        await expect(row).to_have_count(0)
        async with api.sessions() as session:
            ticket = await session.scalar(select(Ticket).where(Ticket.call_id == c1))
        assert ticket is not None and ticket.summary == "楼下工地夜间施工噪音扰民（已核实）"
        await page.click("#btn-wrapup")
        await expect(state).to_have_text("就绪")
        await expect(page.locator("#wrapup-box")).to_be_hidden()

        # Call 2 ends unconfirmed; its draft fills the form; call 3 rings and is answered:
        # the form keeps call 2 and what it says.
        t.pbx.place_call(CallerScript("13800001002", "1", patience_s=120))
        await expect(state).to_have_text("话后整理")
        c2 = await call_id_of(api, "13800001002")
        await draft_arrives(api, c2, "小区路灯不亮")
        await expect(form.locator("textarea[name=summary]")).to_have_value("小区路灯不亮")
        await page.click("#btn-wrapup")
        t.pbx.place_call(CallerScript("13800001003", "1", patience_s=120))
        await expect(page.locator("#popup-number")).to_have_text("13800001003")
        await expect(state).to_have_text("通话中")
        await expect(form.locator("textarea[name=summary]")).to_have_value("小区路灯不亮")
        await expect(page.locator("#draft-for")).to_contain_text(c2)
        await expect(page.locator("#draft-message")).to_have_text(
            "草稿已根据通话录音生成，请核对后确认"
        )
        await shot(page, "seat-talking-with-pending")
        await expect(state).to_have_text("话后整理")
        c3 = await call_id_of(api, "13800001003")
        await expect(pending.locator("tr")).to_have_count(2)
        await expect(pending.locator("tr").first).to_have_attribute("data-call", c3)
        await page.click("#btn-wrapup")
        await expect(state).to_have_text("就绪")

        # A missed ring: the ACD pauses the seat, the page follows, 就绪 brings calls again.
        seats["1001"] = SeatBehaviour(answer_after_s=None)
        t.pbx.place_call(CallerScript("13800001004", "1", patience_s=120))
        await expect(state).to_have_text("振铃")
        await expect(state).to_have_text("小休")
        await expect(page.locator("#reason")).to_have_text("（未接来电）")
        await expect(page.locator("#state-notice")).to_contain_text("点击“就绪”继续接听")
        await expect(page.locator("#popup")).to_be_hidden()
        await shot(page, "seat-missed-ring")
        seats["1001"] = SeatBehaviour(answer_after_s=1.0, talk_s=6)
        await page.click("#btn-ready")
        await expect(page.locator("#popup-number")).to_have_text("13800001004")
        await expect(state).to_have_text("通话中")

        # 退出 on a call is refused and nothing is lost; after the call it signs out for good.
        await page.click("#signout", force=True)  # disabled: the click does nothing
        await expect(state).to_have_text("话后整理")
        token = await page.evaluate("sessionStorage.getItem('hl.token')")
        await page.click("#signout")
        await expect(page.locator("#login")).to_be_visible()
        assert (await Acd(api.redis).seat("1001")).state is SeatState.offline
        refused = await api.client.get(
            "/api/seat/state", headers={"Authorization": f"Bearer {token}"}
        )
        assert refused.status_code == 401
        await page.close()
