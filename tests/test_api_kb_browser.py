"""The seat page's 知识库建议 in a real headless Chromium against a real uvicorn: suggestions
follow the draft within a second of its update, and a chosen entry answers the ticket."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser

from api.services.knowledge import warm
from knowledge import load
from knowledge.service import Draft
from tests.api_support import Api, api, backend, once, served  # noqa: F401
from tests.test_api_browser import browser, open_page, shot, wait_js  # noqa: F401

pytestmark = pytest.mark.slow
SINCE = datetime(2024, 1, 1, tzinfo=UTC)
ENTRIES = [
    Draft("燃气泄漏应急处置", "闻到燃气味立即关阀开窗，到室外拨打燃气抢修电话。", "公用事业·燃气", SINCE,
          tags=("燃气", "泄漏")),
    Draft("停水信息查询", "计划停水由供水企业提前公告，可拨打供水服务热线查询。", "公用事业·供水", SINCE,
          tags=("停水",)),
    Draft("旧燃气补贴", "已废止的燃气补贴。", "公用事业·燃气", datetime(2020, 1, 1, tzinfo=UTC),
          valid_to=datetime(2021, 1, 1, tzinfo=UTC), tags=("燃气",)),
]  # fmt: skip
HITS = "Array.from(document.querySelectorAll('#kb-hits li strong')).map(e => e.textContent)"


async def test_suggestions_follow_the_draft_within_a_second(
    once: None, api: Api, browser: Browser
) -> None:
    async with api.sessions() as s:
        await load.publish_many(s, ENTRIES, "seed")
    await warm()  # as `hotline serve` does before it serves
    async with served(api.app) as base:
        page = await open_page(browser, f"{base}/seat", "seat1")
        await page.fill("#draft textarea[name=summary]", "楼道里有很浓的煤气味")
        await wait_js(page, f"{HITS}.includes('燃气泄漏应急处置')", timeout_s=1.0)
        assert "旧燃气补贴" not in await page.evaluate(HITS)  # expired: never shown
        await page.fill("#draft textarea[name=summary]", "小区明天停水吗")
        await wait_js(page, f"{HITS}[0] === '停水信息查询'", timeout_s=1.0)
        await shot(page, "seat-kb-suggestions")
        await page.fill("#draft textarea[name=summary]", "")
        await wait_js(page, "document.querySelectorAll('#kb-hits li').length === 0", 1.0)
