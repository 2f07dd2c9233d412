"""The 政策知识库 page in a real headless Chromium against a real uvicorn: an editor creates an
entry and submits it, another editor approves it, a seat's search then finds it; an entry
already expired when approved shows as 已过期 and is never found; a new version shows its
difference in the history; a rejection needs a reason."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page

from api.services import users
from api.services.knowledge import warm
from tests.api_support import CHEAP_HASH, PASSWORD, Api, api, backend, once, served  # noqa: F401
from tests.test_api_browser import browser, open_page, shot, wait_js  # noqa: F401

pytestmark = pytest.mark.slow
SEAT_HITS = "Array.from(document.querySelectorAll('#kb-hits li strong')).map(e => e.textContent)"


async def _create(page: Page, fields: dict[str, str]) -> None:
    await page.click("#new")
    for name, value in fields.items():
        await page.fill(f"#entry-form [name={name}]", value)
    await page.click("#entry-form button[type=submit]")
    await wait_js(page, "document.getElementById('e-message').textContent.includes('已提交审核')")


async def _approve(page: Page, title: str) -> None:
    await page.reload()  # the pending list as another editor sees it now
    row = page.locator("#pending tr", has_text=title)
    await row.locator("button.pick").click()
    await page.click("#approve")
    await wait_js(page, "document.getElementById('r-message').textContent.includes('已通过')")


def _state_of(title: str) -> str:
    return (
        "Array.from(document.querySelectorAll('#list tr'))"
        f".filter(r => r.cells[1].textContent === '{title}').map(r => r.cells[4].textContent)[0]"
    )


async def test_editor_submits_approver_publishes_seat_finds(
    once: None, api: Api, browser: Browser
) -> None:
    for name in ("k1", "k2"):
        await users.create(
            api.sessions, name, PASSWORD, "knowledge", None, password_hash=CHEAP_HASH
        )
    await warm()
    async with served(api.app) as base:
        editor = await open_page(browser, f"{base}/knowledge", "k1")
        await _create(editor, {
            "title": "燃气泄漏应急处置", "category": "城乡建设·燃气", "valid_from": "2024-01-01",
            "tags": "燃气、泄漏", "body": "闻到燃气味时立即关闭燃气总阀，开窗通风，到室外拨打抢修电话。",
        })  # fmt: skip
        await _create(editor, {
            "title": "旧燃气灶具补贴", "category": "城乡建设·燃气", "valid_from": "2020-01-01",
            "valid_to": "2021-01-01", "tags": "燃气", "body": "燃气灶具更换补贴，已于2021年停止。",
        })  # fmt: skip
        # one's own revision is refused for review
        await (
            editor.locator("#pending tr", has_text="燃气泄漏应急处置")
            .locator("button.pick")
            .click()
        )
        await editor.click("#approve")
        await wait_js(editor, "document.getElementById('r-error').textContent.includes('自己')")

        approver = await open_page(browser, f"{base}/knowledge", "k2")
        await _approve(approver, "燃气泄漏应急处置")
        await _approve(approver, "旧燃气灶具补贴")
        await wait_js(approver, f"{_state_of('燃气泄漏应急处置')} === '已发布'")
        await wait_js(approver, f"{_state_of('旧燃气灶具补贴')} === '已过期'")
        await shot(approver, "kb-page-approved")

        seat = await open_page(browser, f"{base}/seat", "seat1")
        await seat.fill("#draft textarea[name=summary]", "楼道里有很浓的燃气味")
        await wait_js(seat, f"{SEAT_HITS}.includes('燃气泄漏应急处置')", timeout_s=2.0)
        assert "旧燃气灶具补贴" not in await seat.evaluate(SEAT_HITS)  # expired: never shown

        # a new version: submitted, rejected without a reason refused, then approved; diffed
        await editor.reload()
        await editor.locator("#list tr", has_text="燃气泄漏应急处置").click()
        await editor.click("#edit")
        await editor.fill(
            "#entry-form [name=body]", "闻到燃气味时立即关闭燃气总阀，拨打96777抢修。"
        )
        await editor.click("#entry-form button[type=submit]")
        await wait_js(editor, "document.getElementById('e-message').textContent.includes('已提交')")
        await approver.reload()
        await approver.locator("#pending tr", has_text="燃气泄漏应急处置").locator(".pick").click()
        await wait_js(
            approver, "document.querySelector('#r-diff ins')?.textContent.includes('96777')"
        )
        await approver.click("#reject")
        await wait_js(
            approver, "document.getElementById('r-error').textContent === '驳回须填写理由'"
        )
        await approver.click("#approve")
        await wait_js(
            approver, "document.getElementById('r-message').textContent.includes('已通过')"
        )
        await editor.reload()
        await editor.locator("#list tr", has_text="燃气泄漏应急处置").click()
        await wait_js(editor, "document.querySelectorAll('#history tr').length === 2")
        await editor.locator("#history tr").first.locator(".show-diff").click()
        await wait_js(editor, "document.querySelector('#diff ins')?.textContent.includes('96777')")
        assert "第 2 版" in await editor.locator("#d-fields").inner_text()
        await shot(editor, "kb-page-history")
        await seat.fill("#draft textarea[name=summary]", "燃气味很重要打什么抢修电话")
        await wait_js(seat, f"{SEAT_HITS}.includes('燃气泄漏应急处置')", timeout_s=2.0)
