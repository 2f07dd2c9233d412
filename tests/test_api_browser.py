"""The web pages in a real headless Chromium (Debian's), against a real uvicorn, with the
simulator's calls flowing through the real controller. Screenshots go to test-artifacts/."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from acd.calls import records
from acd.calls.tables import CallRecord
from acd.controller import AcdSettings
from asr.models import CallDraft, Transcript, TranscriptSegment
from hotline.controller import build
from hotline.settings import AmiEndpoint, City, Settings
from recording.models import Recording
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SeatBehaviour, SimPbx
from tests.api_support import PASSWORD, Api, api, backend, once, served  # noqa: F401
from tests.test_api_qa import wav
from tests.test_api_tickets import Draft
from tickets.service import create_ticket

pytestmark = pytest.mark.slow
expect.set_options(timeout=20_000)  # the IVR menu plays before a caller queues
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        await b.close()


async def open_page(browser: Browser, url: str, username: str) -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    page.set_default_timeout(20_000)
    await page.goto(url)
    await page.fill("#login input[name=username]", username)
    await page.fill("#login input[name=password]", PASSWORD)
    await page.click("#login button[type=submit]")
    await expect(page.locator("#app")).to_be_visible()
    return page


async def wait_js(page: Page, expression: str, timeout_s: float = 20.0) -> None:
    """Wait until a JavaScript expression is true in the page. Playwright's wait_for_function
    polls with eval() inside the page, which the pages' CSP (script-src 'self') refuses;
    page.evaluate goes through the DevTools protocol, which the CSP does not govern."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await page.evaluate(expression):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still false after {timeout_s} s: {expression}")
        await asyncio.sleep(0.05)


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_wallboard_moves_and_a_ready_seat_gets_a_call(
    once: None, api: Api, browser: Browser
) -> None:
    pbx = SimPbx("xa", {"1001": SeatBehaviour(answer_after_s=1.5, talk_s=30)})
    server = AmiServer(pbx, secret="sim")
    port = await server.start()
    city = City(name="xa", label="西安", ami=AmiEndpoint(port=port, secret="sim"), trunk="trunk-xa")
    # No overload offer: with the only seat on a break, the EWT would offer callers a callback.
    acd_settings = AcdSettings(overload_ewt_s=10**9)
    runtime = build(city, Settings(cities=[city]), api.redis, api.sessions, acd_settings)
    link = runtime.link
    await link.start()
    await link.wait_up(20)
    runner = asyncio.create_task(runtime.run(tick_s=0.1))
    # The first caller called twice before (one call with its draft) and has a ticket.
    for n, (mood, days) in enumerate((("平稳", 5), ("生气", 2))):
        at = datetime.now(UTC) - timedelta(days=days)
        await records.call_entered(api.sessions, f"xa-before-{n}", "xa", "13800001000", at)
        await records.call_ended(api.sessions, f"xa-before-{n}", "completed", 16, at)
        async with api.sessions.begin() as session:
            session.add(CallDraft(call_id=f"xa-before-{n}", draft={"emotion": mood}))
    async with api.sessions() as session:
        await create_ticket(session, Draft(summary="小区路灯不亮"), call_id="xa-before-1",
                            caller_number="13800001000")  # fmt: skip
    try:
        async with served(api.app) as base:
            seat = await open_page(browser, f"{base}/seat", "seat1")
            await seat.click("#btn-login")
            await expect(seat.locator("#state")).to_have_text("小休")
            board = await open_page(browser, f"{base}/wallboard", "disp")
            waiting = board.locator("#tile-xa-waiting")
            await expect(waiting).to_have_text("0")
            await expect(board.locator("#tile-xa-label")).to_have_text("西安")
            await expect(board.locator("#tile-xa-overflow")).to_have_text("已开启")

            for n in range(2):  # the only seat is on a break: both callers wait
                pbx.place_call(CallerScript(f"1380000100{n}", "1", patience_s=120))
            await expect(waiting).to_have_text("2")
            await expect(board.locator("#tile-xa-ready")).to_have_text("0")
            await shot(board, "wallboard-waiting")

            await seat.click("#btn-ready")  # the seat is ready: the first caller pops
            await expect(seat.locator("#popup")).to_be_visible()
            await expect(seat.locator("#popup-number")).to_have_text("13800001000")
            await expect(seat.locator("#state")).to_have_text("通话中", timeout=20_000)
            await expect(seat.locator("#call-number")).to_have_text("13800001000")
            await expect(seat.locator("#repeat-caller")).to_have_text(
                "重复来电：此前来电 2 次 · 工单 1 张 · 情绪走势 平稳 → 生气"
            )
            await expect(seat.locator("#tickets tr")).to_contain_text("小区路灯不亮")
            await expect(waiting).to_have_text("1")
            await shot(seat, "seat-popped-call")

            await board.click("#tile-xa-toggle")  # the dispatcher switches 多援一 off
            await board.click("#confirm-yes")  # after saying yes to the question
            await expect(board.locator("#tile-xa-overflow")).to_have_text("已关闭")
            # The controller's callback figures share the stats stream: a tile of their own,
            # and the queue figures stay numbers.
            await expect(board.locator("#tile-xa-cb-open")).to_have_text("0", timeout=20_000)
            await expect(waiting).to_have_text("1")
            await shot(board, "wallboard-after")
            await board.close()
            await seat.close()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await link.close()
        await server.stop()


async def test_qa_click_on_a_line_seeks_the_audio(
    once: None, api: Api, browser: Browser, tmp_path: Path
) -> None:
    path = wav(tmp_path / "xa-qa.wav", seconds=12)
    at = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    lines = [
        ("seat", 0.4, "您好，12345热线，请讲。"),
        ("caller", 3.0, "我家楼下工地晚上一直施工，太吵了。"),
        ("seat", 7.5, "请问具体地址是哪里？"),
    ]
    async with api.sessions.begin() as session:
        session.add(
            CallRecord(
                call_id="xa-qa",
                city="xa",
                caller_num="13800002222",
                skill="general",
                entered_at=at,
                answered_at=at,
                ended_at=at,
                seat_id="1001",
                answer_city="xa",
                outcome="completed",
            )
        )
        rec = Recording(
            call_id="xa-qa",
            city="xa",
            seat_id="1001",
            speaker="mixed",
            path=str(path),
            format="wav-pcm16",
            duration_s=12.0,
            size_bytes=path.stat().st_size,
            sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
            started_at=at,
        )
        session.add(rec)
        await session.flush()
        session.add(
            Transcript(
                recording_id=rec.id,
                call_id="xa-qa",
                speaker="mixed",
                text=" ".join(t for *_, t in lines),
                model="test",
                audio_s=12.0,
                segments=[
                    TranscriptSegment(speaker=sp, start_s=s, end_s=s + 2.5, text=t)
                    for sp, s, t in lines
                ],
            )
        )
    async with served(api.app) as base:
        page = await open_page(browser, f"{base}/qa", "qa")
        await page.fill("#search input[name=q]", "施工")
        await page.click("#search button[type=submit]")
        row = page.locator("#results tr[data-call=xa-qa]")
        await expect(row).to_have_count(1)
        await row.click()
        items = page.locator("#transcript li[data-start]")
        await expect(items).to_have_count(3)
        await wait_js(page, "document.getElementById('player').readyState >= 1")
        await items.nth(2).click()
        await wait_js(page, "document.getElementById('player').currentTime >= 7.4")
        now = await page.evaluate("document.getElementById('player').currentTime")
        assert 7.4 <= now < 12
        await page.evaluate("document.getElementById('player').pause()")
        await items.nth(1).click()
        await wait_js(page, "Math.abs(document.getElementById('player').currentTime - 3.0) < 0.6")
        await expect(items.nth(1)).to_have_class("caller active")
        await page.fill("#comment-text", "地址确认及时")
        await page.click("#add-comment")
        await expect(page.locator("#comments tr")).to_have_count(1)
        await page.click("#score button[type=submit]")  # nothing chosen: refused, not 100
        await expect(page.locator("#score-message")).to_contain_text("请为每一项评分")
        for key in ("greeting", "listening", "policy", "ticket", "attitude", "closing"):
            await page.fill(f"#score input[name=item-{key}]", "5")
        await page.click("#score button[type=submit]")
        await expect(page.locator("#score-message")).to_have_text("评分已提交")
        await expect(page.locator("#scores tr")).to_contain_text("30 / 100")
        await shot(page, "qa-review")
    audit = (
        await api.client.get("/api/admin/audit?call_id=xa-qa", headers=api.role("admin"))
    ).json()
    actions = {e["action"] for e in audit}
    assert actions == {"recording.play", "transcript.view"}
    assert any(e["detail"].startswith("bytes=") for e in audit)  # the browser seeks by Range
