"""A QA shift in a real headless Chromium against a real uvicorn: the lead samples yesterday's
calls to a reviewer; the reviewer opens an assigned call, the audio loads, the caller's and
the seat's lines (transcribed by the real ASR worker with real Vosk) highlight as the player
moves, scoring refuses an incomplete form, the score goes in and the next call comes up; the
seat appeals on its page (我的质检) and the lead resolves the appeal on the QA page."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import func, select

from acd.calls.tables import CallRecord
from api.models import QaScore
from asr.engine import Transcriber
from asr.models import Transcript
from asr.queueing import job_queuer
from asr.worker import AsrWorker, WorkerSettings
from recording.index import index_call
from recording.policy import base_path, speaker_files
from tests.api_support import Api, api, backend, once, served  # noqa: F401
from tests.asr_support import FreshEachFile, sox
from tests.test_api_browser import browser, open_page, shot, wait_js  # noqa: F401
from tests.test_api_qa import wav
from tests.test_api_qa_work import add_lead, add_recording

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("vosk")]
AT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
DAY = "2026-11-30"


async def transcribed_call(hl: Api, root: Path, speech: Path, transcriber: Transcriber) -> None:
    """Call "real-1": per-speaker files as MixMonitor writes them (the seat greets, the caller
    speaks from 3.5 s on), indexed as the controller does, transcribed by the ASR worker."""
    files = speaker_files(base_path(root, "real-1", 1, AT))
    files["caller"].parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(sox, str(speech / "weather-8k.wav"), str(files["seat"]))
    await asyncio.to_thread(
        sox, str(speech / "noise-8k.wav"), str(files["caller"]), "pad", "3.5", "0"
    )
    await asyncio.to_thread(
        sox, "-m", str(files["seat"]), str(files["caller"]), str(files["mixed"])
    )
    await index_call(
        hl.sessions,
        job_queuer(hl.sessions, hl.redis),
        call_id="real-1",
        city="xa",
        seat_id="1001",
        root=root,
        arrived_at=AT,
        started_at=AT,
    )
    worker = AsrWorker(hl.redis, hl.sessions, FreshEachFile(transcriber), WorkerSettings(threads=1))
    task = asyncio.create_task(worker.run())
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + 90
        while True:
            async with hl.sessions() as s:
                n = await s.scalar(select(func.count()).select_from(Transcript))
            if n == 2:
                break
            assert loop.time() < end, "the ASR worker did not transcribe both speakers"
            await asyncio.sleep(0.2)
    finally:
        worker.stop()
        task.cancel()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 20)


async def calls(hl: Api) -> None:
    async with hl.sessions.begin() as session:
        for n, call_id in enumerate(("real-1", "laid-2")):
            at = AT.replace(minute=n * 10)
            session.add(
                CallRecord(
                    call_id=call_id,
                    city="xa",
                    caller_num=f"1380000300{n}",
                    skill="general",
                    entered_at=at,
                    answered_at=at,
                    ended_at=at,
                    seat_id="1001",
                    answer_city="xa",
                    outcome="completed",
                )
            )


async def set_time(page: Page, seconds: float) -> None:
    await page.evaluate(f"document.getElementById('player').currentTime = {seconds}")
    await wait_js(
        page, f"Math.abs(document.getElementById('player').currentTime - {seconds}) < 0.05"
    )


async def test_a_qa_shift(
    once: None,  # noqa: F811
    api: Api,  # noqa: F811
    browser: Browser,  # noqa: F811
    tmp_path: Path,
    speech_dir: Path,
    transcriber: Transcriber,
) -> None:
    lead_headers = await add_lead(api)
    await calls(api)
    await transcribed_call(api, tmp_path / "rec", speech_dir, transcriber)
    # The second call: transcript rows with realistic times (layout only).
    await add_recording(api, "laid-2", "mixed", wav(tmp_path / "l2.wav", 10), None)
    await add_recording(
        api,
        "laid-2",
        "caller",
        wav(tmp_path / "l2c.wav", 10),
        [("caller", 2.0, 4.5, "我要反映小区停车问题")],
    )
    await add_recording(
        api, "laid-2", "seat", wav(tmp_path / "l2s.wav", 10), [("seat", 0.3, 1.8, "您好请讲")]
    )
    expected = (
        await api.client.get("/api/qa/calls/real-1/transcript", headers=lead_headers)
    ).json()
    speakers = [ln["speaker"] for ln in expected["lines"]]
    assert "caller" in speakers and "seat" in speakers, expected

    async with served(api.app) as base:
        # The lead samples the day's calls for the reviewer.
        lead = await open_page(browser, f"{base}/qa", "lead")
        await expect(lead.locator("#sampling")).to_be_visible()
        await lead.fill("#sample input[name=day]", DAY)
        await lead.fill("#sample input[name=percent]", "100")
        await lead.fill("#sample input[name=reviewers]", "qa")
        await expect(lead.locator("#sample select[name=city] option[value=xa]")).to_have_text(
            "西安"
        )
        await lead.click("#sample button[type=submit]")
        await expect(lead.locator("#sample-message")).to_contain_text("已抽取并分配 2 通")

        # The reviewer's shift.
        page = await open_page(browser, f"{base}/qa", "qa")
        await expect(page.locator("#sampling")).to_be_hidden()
        assigned = page.locator("#assigned tr[data-call]")
        await expect(assigned).to_have_count(2)
        await expect(assigned.first.locator("td").nth(1)).to_have_text("西安")
        await assigned.first.click()
        await expect(page.locator("#review-call")).to_contain_text("real-1")
        await wait_js(page, "document.getElementById('player').readyState >= 1")
        duration = await page.evaluate("document.getElementById('player').duration")
        assert duration > 5
        lines = page.locator("#transcript li[data-start]")
        await expect(lines).to_have_count(len(expected["lines"]))
        for n, line in enumerate(expected["lines"]):
            label = {"caller": "市民：", "seat": "坐席："}[line["speaker"]]
            await expect(lines.nth(n).locator(".who")).to_have_text(label)
            await expect(lines.nth(n)).to_contain_text(line["text"])
        # The highlight follows the player, line by line.
        for n, line in enumerate(expected["lines"]):
            await set_time(page, (line["start_s"] + line["end_s"]) / 2)
            await expect(lines.nth(n)).to_have_class(f"{line['speaker']} active")
            await expect(page.locator("#transcript li.active")).to_have_count(1)
        # A click on a line seeks there.
        last = len(expected["lines"]) - 1
        await set_time(page, 0)
        await lines.nth(last).click()
        await wait_js(
            page,
            f"document.getElementById('player').currentTime >= {expected['lines'][last]['start_s']}",
        )
        await page.evaluate("document.getElementById('player').pause()")
        await shot(page, "qa-shift-review")

        # Nothing is pre-filled: an untouched form is refused, and so is a half-filled one.
        await expect(page.locator("#total")).to_have_text("—")
        await page.click("#score button[type=submit]")
        await expect(page.locator("#score-message")).to_contain_text("请为每一项评分")
        await expect(page.locator("#items .item.missing")).to_have_count(6)
        await page.fill("#score input[name=item-greeting]", "8")
        await page.click("#score button[type=submit]")
        await expect(page.locator("#items .item.missing")).to_have_count(5)
        async with api.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(QaScore)) == 0
        for key, value in (
            ("listening", "18"),
            ("policy", "20"),
            ("ticket", "25"),
            ("attitude", "15"),
            ("closing", "3"),
        ):
            await page.fill(f"#score input[name=item-{key}]", value)
        await page.fill("#score input[name=note-closing]", "未确认是否还有其他诉求")
        await expect(page.locator("#total")).to_have_text("89")
        await page.click("#score button[type=submit]")
        await expect(page.locator("#score-message")).to_have_text("评分已提交")
        await expect(page.locator("#scores tr")).to_have_count(1)
        await expect(page.locator("#scores tr")).to_contain_text("89 / 100")
        await expect(page.locator("#scores tr")).to_contain_text(
            "结束语规范：未确认是否还有其他诉求"
        )
        await expect(assigned).to_have_count(1)
        await page.click("#hold")
        await expect(page.locator("#hold-state")).to_have_text("已保留：不会被到期清理")

        await page.click("#next")
        await expect(page.locator("#review-call")).to_contain_text("laid-2")
        await expect(page.locator("#total")).to_have_text("—")
        await expect(page.locator("#hold-state")).to_have_text("")
        await expect(lines).to_have_count(2)
        await expect(lines.nth(0)).to_contain_text("坐席：您好请讲")
        await expect(lines.nth(1)).to_contain_text("市民：我要反映小区停车问题")
        await page.close()

        # The seat appeals its score on its page (我的质检), once.
        seat = await open_page(browser, f"{base}/seat", "seat1")
        scored = seat.locator("#my-qa-scores tr[data-score]")
        await expect(scored).to_have_count(1)
        await expect(scored).to_contain_text("89 / 100")
        await expect(scored).to_contain_text("结束语规范：未确认是否还有其他诉求")
        await scored.locator("button.appeal").click()
        await expect(seat.locator("#my-qa-message")).to_have_text("请填写申诉理由")
        await scored.locator("input.appeal-reason").fill("已询问是否还有其他诉求，见录音末尾")
        await scored.locator("button.appeal").click()
        await expect(seat.locator("#my-qa-message")).to_have_text("申诉已提交")
        await expect(scored).to_contain_text("申诉处理中")
        await expect(scored.locator("button.appeal")).to_have_count(0)

        # The lead resolves it on the page: the closing item raised to 5.
        await lead.select_option("#appeal-status", "open")
        row = lead.locator("#appeals tr[data-appeal]")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("已询问是否还有其他诉求")
        await row.locator("button.handle").click()
        await lead.click("#resolve-change")
        await expect(lead.locator("#resolve-message")).to_have_text("请填写处理意见")
        await lead.fill("#resolve input[name=new-closing]", "5")
        await lead.fill("#resolve-note", "复听录音，结束语完整")
        await lead.click("#resolve-change")
        await expect(lead.locator("#appeals tr[data-appeal]")).to_have_count(0)
        await lead.select_option("#appeal-status", "changed")
        await expect(lead.locator("#appeals tr[data-appeal]")).to_contain_text("已改分（lead）")
        await shot(lead, "qa-shift-appeal")
        await lead.close()
        await seat.reload()
        await expect(scored).to_contain_text("已改分（89 → 91）：复听录音，结束语完整")
        await shot(seat, "qa-shift-seat")
        await seat.close()

    after = (await api.client.get("/api/seat/qa/scores", headers=api.as_("seat1"))).json()
    [item] = after["items"]
    assert item["score"]["total"] == 91 and item["appeal"]["old_total"] == 89
    assert item["appeal"]["status"] == "changed"
    detail = (await api.client.get("/api/qa/calls/real-1", headers=lead_headers)).json()
    assert detail["held"] is True
    audit = (
        await api.client.get("/api/admin/audit?call_id=real-1", headers=api.role("admin"))
    ).json()
    assert {e["action"] for e in audit} >= {
        "recording.play",
        "transcript.view",
        "recording.hold",
        "qa.appeal",
        "qa.appeal.resolve",
    }
