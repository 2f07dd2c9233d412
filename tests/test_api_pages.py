"""A seat's shift and a dispatcher's watch, in a real headless Chromium against a real
uvicorn, with the simulator's callers flowing through the real controller: what staff do
call after call, not only that the pages render. Screenshots (1920x1080) go to
test-artifacts/."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from acd.callbacks.runner import CallbackSettings
from acd.callbacks.tables import CallbackTask
from acd.calls.tables import CallRecord
from acd.controller import AcdSettings
from acd.queue.service import Acd
from acd.queue.types import SeatState
from api.app import create_app
from api.services import users
from asr.models import CallDraft
from hotline.controller import build
from hotline.settings import AmiEndpoint, City, Settings
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SeatBehaviour, SimPbx
from store import keys
from tests.api_support import PASSWORD, Api, api, backend, once, served  # noqa: F401
from tests.test_api_browser import ARTIFACTS, browser, wait_js  # noqa: F401
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
async def town(
    api: Api,
    seats: dict[str, SeatBehaviour],
    app: FastAPI | None = None,
    callbacks: CallbackSettings | None = None,
    **acd: object,
) -> AsyncIterator[Town]:
    """City xa: the simulated PBX, the real controller on it, and the API served."""
    pbx = SimPbx("xa", seats)
    server = AmiServer(pbx, secret="sim")
    port = await server.start()
    city = City(name="xa", label="西安", ami=AmiEndpoint(port=port, secret="sim"), trunk="trunk-xa")
    settings = AcdSettings(overload_ewt_s=10**9, **acd)  # type: ignore[arg-type]
    runtime = build(city, Settings(cities=[city]), api.redis, api.sessions, settings, callbacks)
    link = runtime.link
    await link.start()
    await link.wait_up(20)
    runner = asyncio.create_task(runtime.run(tick_s=0.1))
    try:
        async with served(app or api.app) as base:
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


async def test_a_dispatcher_watches_and_acts(once: None, api: Api, browser: Browser) -> None:
    seats = {"1001": SeatBehaviour(answer_after_s=1.0, talk_s=120), "1002": SeatBehaviour(None)}
    # The cities in an order that is not alphabetical: the wallboard keeps it.
    app = create_app(dataclasses.replace(api.deps, cities=("xy", "xa")))
    async with town(api, seats, ring_timeout_s=3, callback_after_s=1.0, app=app) as t:
        board = await open_page(browser, f"{t.base}/wallboard", "disp")
        tiles = board.locator("#tiles > section")
        await expect(tiles).to_have_count(2)
        assert await tiles.evaluate_all("ts => ts.map(t => t.id)") == ["tile-xy", "tile-xa"]
        await expect(board.locator("#tile-xa-label")).to_have_text("西安")
        grid = board.locator("#tile-xa-seats")
        await expect(board.locator("#tile-xa-no-seats")).to_be_visible()

        # A caller gives up while nobody is signed in: a callback task on the board.
        t.pbx.place_call(CallerScript("13800002000", "1", patience_s=2))
        task = board.locator("#callbacks tr", has_text="13800002000")
        await expect(task).to_have_count(1)

        # Seats sign in: the grid follows live, each seat with its state.
        for who in ("seat1", "seat2"):
            await api.client.post("/api/seat/login", headers=api.as_(who))
        row1, row2 = grid.locator("tr[data-seat='1001']"), grid.locator("tr[data-seat='1002']")
        await expect(row1).to_contain_text("小休（登录）")
        await expect(row2).to_contain_text("小休（登录）")
        await expect(row1.get_by_role("button", name="监听")).to_be_disabled()

        # Seat 1002 is offered a call, lets it ring out and is stuck paused: force it ready.
        await api.client.post("/api/seat/ready", headers=api.as_("seat2"))
        t.pbx.place_call(CallerScript("13800002001", "1", patience_s=120))
        await expect(row2).to_contain_text("振铃")
        await expect(row2).to_contain_text("小休（未接来电）")
        ready = row2.get_by_role("button", name="置为就绪")
        await expect(ready).to_be_enabled()
        await shot(board, "wallboard-stuck-seat")
        seats["1002"] = SeatBehaviour(answer_after_s=1.0, talk_s=120)
        await ready.click()
        await expect(board.locator("#board-message")).to_have_text("坐席 1002 已置为就绪")
        await expect(row2).to_contain_text("通话中")  # the waiting caller reaches it at once
        c2 = await call_id_of(api, "13800002001")
        await expect(row2).to_contain_text(c2)

        # Spy on a talking seat: the dispatcher's phone (9001) is dialled by the controller.
        await row2.get_by_role("button", name="监听").click()
        await expect(board.locator("#board-message")).to_have_text(
            "已向坐席 1002 发起监听，请接听您的话机"
        )
        await row2.get_by_role("button", name="耳语").click()
        await expect(board.locator("#board-message")).to_have_text(
            "已向坐席 1002 发起耳语，请接听您的话机"
        )

        # Force sign-out asks first; seat 1001 then stops being offered calls.
        await row1.get_by_role("button", name="强制签出").click()
        await expect(board.locator("#confirm")).to_be_visible()
        await expect(board.locator("#confirm-text")).to_contain_text("坐席 1001 将被签出")
        await board.click("#confirm-yes")
        await expect(row1).to_contain_text("未签入")
        assert (await Acd(api.redis).seat("1001")).state is SeatState.offline

        # Today's figures and the chart, with axes and labels.
        await expect(board.locator("#tile-xa-offered")).not_to_have_text("0")
        await expect(board.locator("#tile-xa-answered")).to_have_text("1")
        await expect(board.locator("#tile-xa-asa")).to_have_text(re.compile(r"^\d\d:\d\d$"))
        chart = await board.evaluate(
            """() => {
                const c = Chart.getChart("tile-xa-chart");
                return { x: c.options.scales.x.title.text, y: c.options.scales.y.title.text,
                         ticks: c.scales.x.ticks.length, labels: c.data.labels.length,
                         legend: c.legend.legendItems.map(i => i.text),
                         width: c.width, height: c.height };
            }"""
        )
        assert chart["x"].startswith("时间") and chart["y"] == "来电数"
        assert chart["labels"] == 60 and 5 <= chart["ticks"] <= 13
        assert chart["legend"] == ["接通", "放弃", "等待人数(峰值)"]
        assert chart["width"] > 600 and chart["height"] > 180
        # The calls of this test are in its bars (the abandoned one, the answered one).
        await wait_js(
            board,
            """() => {
                const d = Chart.getChart("tile-xa-chart").data.datasets;
                const sum = ds => ds.data.reduce((a, b) => a + (b || 0), 0);
                return sum(d[0]) >= 1 && sum(d[1]) >= 1;
            }""",
        )

        # 多援一: the switch asks; 取消 changes nothing, 确定 switches and is audited.
        toggle, badge = board.locator("#tile-xa-toggle"), board.locator("#tile-xa-overflow")
        await expect(badge).to_have_text("已开启")
        await toggle.click()
        await expect(board.locator("#confirm-text")).to_contain_text("确定关闭多援一吗")
        await shot(board, "wallboard-confirm-overflow")
        await board.click("#confirm-no")
        await expect(board.locator("#confirm")).to_be_hidden()
        await expect(badge).to_have_text("已开启")
        await toggle.click()
        await board.click("#confirm-yes")
        await expect(badge).to_have_text("已关闭")
        await shot(board, "wallboard-shift")

        audit = (
            await api.client.get("/api/admin/audit?username=disp", headers=api.role("admin"))
        ).json()
        # Spying is audited too where the security work is in (spy.*): not this test's subject.
        assert [
            (e["action"], e["target"]) for e in reversed(audit) if e["action"][:4] != "spy."
        ] == [
            ("seat.force_ready", "seat:1002"),
            ("seat.force_logout", "seat:1001"),
            ("overflow.switch", "city:xa"),
        ]
        await board.close()


async def test_the_callback_desk_gets_a_pop_for_a_callback(
    once: None, api: Api, browser: Browser
) -> None:
    await users.save_seat_profile(
        api.sessions, "1001", "xa", {"general": 1, "callback": 1}, "PJSIP/1001"
    )
    round_the_clock = CallbackSettings(hours=("00:00", "00:00"), seat_ring_s=10)
    seats = {"1001": SeatBehaviour(answer_after_s=1.0, talk_s=5)}
    async with town(api, seats, callbacks=round_the_clock, callback_after_s=1.0) as t:
        page = await open_page(browser, f"{t.base}/seat", "seat1")
        await page.click("#btn-login")
        await expect(page.locator("#state")).to_have_text("小休")
        t.pbx.place_call(CallerScript("13800003000", "1", patience_s=2))  # gives up waiting

        async def task_written() -> bool:
            async with api.sessions() as session:
                return (
                    await session.scalar(
                        select(CallbackTask.id).where(CallbackTask.number == "13800003000")
                    )
                ) is not None

        for _ in range(300):  # a deadline, checking the condition
            if await task_written():
                break
            await asyncio.sleep(0.1)
        assert await task_written()
        await page.click("#btn-ready")  # the seat is free: the callback is offered to it
        popup = page.locator("#popup")
        await expect(popup).to_be_visible()
        await expect(page.locator("#popup-title")).to_have_text("漏话回拨")
        await expect(page.locator("#popup-number")).to_have_text("13800003000")
        await expect(page.locator("#popup-info")).to_contain_text("第 1 次拨打")
        await expect(popup).to_have_class(re.compile(r"\bcallback\b"))
        await expect(page.locator("#state")).to_have_text(re.compile("振铃|通话中"))
        await shot(page, "seat-callback-pop")
        await page.close()


async def test_the_wallboard_shows_a_seat_the_watchdog_reset(
    once: None, api: Api, browser: Browser
) -> None:
    """A seat left busy by a lost event (no channel on the PBX) is reset by the controller's
    watchdog, and the dispatcher reads which seat, how it was stuck and for how long."""
    async with town(api, {}, stuck_busy_s=1.0, stuck_ringing_s=1.0) as t:
        board = await open_page(browser, f"{t.base}/wallboard", "disp")
        await expect(board.locator("#tile-xa-label")).to_have_text("西安")
        line = board.locator("#tile-xa-resets")
        await expect(line).to_be_hidden()  # nothing reset yet: no line
        await api.client.post("/api/seat/login", headers=api.as_("seat1"))
        acd = Acd(api.redis)
        old = acd.clock() - 240_000
        await api.redis.hset(
            keys.acd_seat("1001"), mapping={"state": "busy", "call": "xa-lost", "since": old}
        )
        await expect(line).to_contain_text(re.compile(r"看门狗复位：坐席1001（通话中卡滞24\d秒"))
        await shot(board, "wallboard-watchdog")
    assert (await acd.seat("1001")).state in (SeatState.ready, SeatState.wrapup)
