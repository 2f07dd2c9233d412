"""The report as people get it: `hotline report weekly` documents (PDF printed by Chromium,
self-contained HTML, xlsx) that open with the expected pages and figures, the weekly job that
stores them, and the API that lists and serves them by role."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from redis.asyncio import Redis

from api.app import create_app
from api.services import users
from hotline.db import make_engine, session_factory
from reports import archive, document
from reports.weekly import build_weekly, report_json
from tests.api_support import CHEAP_HASH, PASSWORD, make_deps
from tests.reports_support import WEEK, generate_month

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ["一、热点诉求", "二、承办单位红黑榜", "三、话务运行", "四、重复来电与情绪（专报）"]


@pytest.fixture(scope="module")
def month_db(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[str]:
    """One generated month for the module (SQLite): the documents only read it."""
    path = tmp_path_factory.mktemp("reports") / "month.sqlite3"
    shutil.copy(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"

    async def go() -> None:
        engine = make_engine(url)
        try:
            await generate_month(session_factory(engine))
        finally:
            await engine.dispose()

    asyncio.run(go())
    yield url


@pytest.fixture(scope="module")
def month_data(month_db: str) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        engine = make_engine(month_db)
        try:
            async with session_factory(engine)() as session:
                return report_json(await build_weekly(session, WEEK))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def hotline(
    *args: str, database_url: str, data_dir: Path, read_url: str = ""
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env = {**clean, "PYTHONPATH": str(ROOT), "HOTLINE_DATABASE_URL": database_url}
    env["HOTLINE_DATABASE_READ_URL"] = read_url
    env["HOTLINE_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "hotline", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def pdf_pages(path: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


def test_the_cli_prints_the_weekly_pdf(month_db, month_data, tmp_path) -> None:
    out = tmp_path / "out" / "周报.pdf"
    done = hotline(
        "report", "weekly", "--week", "2026-W48", "--format", "pdf", "--out", str(out),
        database_url=month_db, data_dir=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    pages = pdf_pages(out)
    assert 3 <= len(pages) <= 8
    text = "\n".join(pages)
    assert pages[0].startswith("12345 热线周报 2026-W48")
    assert f"受理工单 {month_data['tickets_accepted']} 件" in pages[0]
    # Every section, in order; the charts drew (axis labels and the heat map's weekdays).
    where = [text.index(title) for title in SECTIONS]
    assert where == sorted(where)
    assert "周日" in text and "22时" in text
    for unit in month_data["red"][:3]:
        assert unit["unit"] in text


def test_the_cli_refuses_a_week_that_does_not_exist(month_db, tmp_path) -> None:
    done = hotline(
        "report", "weekly", "--week", "2026-W54", "--format", "pdf",
        database_url=month_db, data_dir=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert "2026 has no week 54" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_html_is_self_contained_and_xlsx_holds_the_figures(month_data, tmp_path) -> None:
    page = document.write(month_data, "html", tmp_path / "w.html").read_text(encoding="utf-8")
    assert "<script src" not in page and "http://" not in page.split("<script>")[0]
    assert "echarts" in page and month_data["headline"] in page
    book = load_workbook(document.write(month_data, "xlsx", tmp_path / "w.xlsx"))
    assert book.sheetnames == [
        "概况", "类别走势", "聚类热点", "红榜", "黑榜", "全部单位", "话务", "呼入热力", "重复来电",
    ]  # fmt: skip
    calls = list(book["话务"].iter_rows(values_only=True))
    total = month_data["calls"]["total"]
    assert calls[-1][:6] == ("全部", total["entered"], total["offered"], total["answered"],
                            total["answered_in_sl"], total["abandoned"])  # fmt: skip
    heat = list(book["呼入热力"].iter_rows(min_row=2, values_only=True))
    assert [list(r[1:]) for r in heat] == month_data["calls"]["heat"]
    red = list(book["红榜"].iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[3], r[-1]) for r in red] == [
        (u["unit"], u["tickets"], u["score"]) for u in month_data["red"]
    ]
    assert len(book["类别走势"]._charts) == 1


@pytest.fixture
async def report_api(
    month_db, embedded_redis, tmp_path
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], Path]]:
    redis = Redis.from_url(embedded_redis.url, decode_responses=True)
    await redis.flushdb()
    engine = make_engine(month_db)
    sessions = session_factory(engine)
    stored = tmp_path / "reports"
    app = create_app(make_deps(redis, engine, sessions=sessions, reports_dir=stored))
    tokens: dict[str, str] = {}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for name, role in (
                ("leader-r", "leader"),
                ("seat-r", "seat"),
                ("disp-r", "dispatcher"),
            ):
                if await users.by_username(sessions, name) is None:
                    await users.create(
                        sessions,
                        name,
                        PASSWORD,
                        role,
                        "1009" if role == "seat" else None,
                        password_hash=CHEAP_HASH,
                    )
                resp = await client.post(
                    "/api/auth/login", json={"username": name, "password": PASSWORD}
                )
                tokens[role] = resp.json()["token"]
            yield client, tokens, stored
    finally:
        await redis.flushdb()
        await redis.aclose()
        await engine.dispose()


async def test_the_weekly_job_stores_once_and_the_api_serves_by_role(report_api, month_db) -> None:
    client, tokens, stored = report_api
    auth = {role: {"Authorization": f"Bearer {t}"} for role, t in tokens.items()}
    engine = make_engine(month_db)
    try:
        sessions = session_factory(engine)
        now = WEEK.end + timedelta(days=2, hours=1)  # a Wednesday of the next week
        written = await archive.generate_due(sessions, stored, now, "Asia/Shanghai")
        assert sorted(p.name for p in written) == [
            f"weekly-2026-W48.{f}" for f in ("html", "pdf", "xlsx")
        ]
        assert await archive.generate_due(sessions, stored, now, "Asia/Shanghai") == []
    finally:
        await engine.dispose()
    assert not [p for p in stored.iterdir() if p.name.startswith(".")]  # no partial file left
    listed = (await client.get("/api/reports/files", headers=auth["leader"])).json()
    assert [f["name"] for f in listed] == [
        "weekly-2026-W48.xlsx",
        "weekly-2026-W48.pdf",
        "weekly-2026-W48.html",
    ]
    pdf = await client.get("/api/reports/files/weekly-2026-W48.pdf", headers=auth["dispatcher"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == (stored / "weekly-2026-W48.pdf").read_bytes()
    for name in ("weekly-2026-W47.pdf", "..%2Fmonth.sqlite3", "notes.txt"):
        assert (
            await client.get(f"/api/reports/files/{name}", headers=auth["leader"])
        ).status_code == 404
    assert (await client.get("/api/reports/files", headers=auth["seat"])).status_code == 403
    assert (
        await client.get("/api/reports/weekly?week=2026-W48", headers=auth["seat"])
    ).status_code == 403
    bad = await client.get("/api/reports/weekly?week=2026-48", headers=auth["leader"])
    assert bad.status_code == 422
    none = await client.get("/api/reports/weekly?week=2026-W54", headers=auth["leader"])
    assert none.status_code == 422 and "no week 54" in none.text
    weekly = await client.get("/api/reports/weekly?week=2026-W48", headers=auth["leader"])
    assert weekly.status_code == 200 and weekly.json()["calls"]["total"]["offered"] > 0


@pytest.mark.slow
async def test_the_report_page_draws_its_charts_in_chromium(
    month_db, embedded_redis, tmp_path
) -> None:
    from playwright.async_api import async_playwright, expect

    from tests.api_support import served
    from tests.test_api_browser import CHROMIUM_ARGS, shot, wait_js

    redis = Redis.from_url(embedded_redis.url, decode_responses=True)
    engine = make_engine(month_db)
    sessions = session_factory(engine)
    stored = tmp_path / "reports"
    stored.mkdir()
    (stored / "weekly-2026-W47.pdf").write_bytes(b"%PDF-1.4 stored by the weekly job")
    app = create_app(make_deps(redis, engine, sessions=sessions, reports_dir=stored))
    if await users.by_username(sessions, "leader-p") is None:
        await users.create(sessions, "leader-p", PASSWORD, "leader", None, password_hash=CHEAP_HASH)
    problems: list[str] = []
    try:
        async with served(app) as base, async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.goto(f"{base}/reports?week=2026-W48")
            await page.fill("#login input[name=username]", "leader-p")
            await page.fill("#login input[name=password]", PASSWORD)
            await page.click("#login button[type=submit]")
            await wait_js(page, "document.body.dataset.chartsDrawn === '5'")
            # Every chart drew into its box (SVG renderer: shapes, not an empty container).
            drawn = await page.evaluate(
                "[...document.querySelectorAll('[data-chart]')].map(n => n.querySelectorAll('svg path, svg rect').length)"
            )
            assert len(drawn) == 5 and min(drawn) > 10, drawn
            await expect(page.locator("#report-headline")).to_contain_text("受理工单")
            await expect(page.locator("#table-red tbody tr")).to_have_count(10)
            await expect(page.locator("#files tr")).to_have_count(1)
            await expect(page.locator("#files")).to_contain_text("2026-W47")
            await shot(page, "reports-weekly")
            # Another week through the form redraws the same charts.
            await page.fill("#week", "2026-W47")
            await page.click("#pick button[type=submit]")
            await expect(page.locator("h1").nth(1)).to_contain_text("2026-W47")
            await browser.close()
    finally:
        await redis.aclose()
        await engine.dispose()
    assert problems == []


def read_only(url: str) -> str:
    """The same SQLite file opened read-only: a stand-in replica that refuses every write."""
    return "sqlite+aiosqlite:///file:" + url.split("///", 1)[1] + "?mode=ro&uri=true"


@pytest.fixture
def empty_db(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated primary with no tickets and no calls."""
    path = tmp_path / "primary.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


def test_the_cli_reads_the_replica_when_one_is_set(
    month_db, month_data, empty_db, tmp_path
) -> None:
    out = tmp_path / "w.xlsx"
    args = ("report", "weekly", "--week", "2026-W48", "--format", "xlsx", "--out", str(out))
    done = hotline(*args, database_url=empty_db, data_dir=tmp_path, read_url=read_only(month_db))
    assert done.returncode == 0, done.stderr
    calls = list(load_workbook(out)["话务"].iter_rows(values_only=True))
    assert calls[-1][:3] == ("全部", month_data["calls"]["total"]["entered"],
                             month_data["calls"]["total"]["offered"])  # fmt: skip
    done = hotline(*args, database_url=empty_db, data_dir=tmp_path)  # no replica: the primary
    assert done.returncode == 0, done.stderr
    assert list(load_workbook(out)["话务"].iter_rows(values_only=True))[-1][:3] == ("全部", 0, 0)


async def test_reports_and_statistics_read_the_replica_and_tickets_the_primary(
    month_db, month_data, empty_db, embedded_redis
) -> None:
    redis = Redis.from_url(embedded_redis.url, decode_responses=True)
    await redis.flushdb()
    primary, replica = make_engine(empty_db), make_engine(read_only(month_db))
    sessions = session_factory(primary)
    await users.create(sessions, "disp-p", PASSWORD, "dispatcher", None, password_hash=CHEAP_HASH)
    app = create_app(
        make_deps(redis, primary, sessions=sessions, read_sessions=session_factory(replica))
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            login = {"username": "disp-p", "password": PASSWORD}
            token = (await client.post("/api/auth/login", json=login)).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            weekly = await client.get("/api/reports/weekly?week=2026-W48", headers=auth)
            assert weekly.status_code == 200, weekly.text
            offered = weekly.json()["calls"]["total"]["offered"]
            assert offered == month_data["calls"]["total"]["offered"] > 0
            span = {"since": "2026-11-01T00:00:00+08:00", "until": "2026-12-31T00:00:00+08:00"}
            stats = await client.get("/api/tickets-stats", params=span, headers=auth)
            assert stats.status_code == 200 and sum(r["total"] for r in stats.json()) > 0
            queue = await client.get("/api/tickets", headers=auth)  # people act on these
            assert queue.status_code == 200 and queue.json()["items"] == []
    finally:
        await redis.flushdb()
        await redis.aclose()
        await primary.dispose()
        await replica.dispose()


def test_the_cli_names_an_unreachable_replica(empty_db, tmp_path) -> None:
    """A replica that is down (nothing listens on its port): one line naming it, no traceback,
    no file; its password is not printed."""
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "w.xlsx"
    replica = f"postgresql://reports:s3cret@127.0.0.1:{port}/hotline"
    args = ("report", "weekly", "--week", "2026-W48", "--format", "xlsx", "--out", str(out))
    done = hotline(*args, database_url=empty_db, data_dir=tmp_path, read_url=replica)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith(
        f"hotline: cannot read the read replica (HOTLINE_DATABASE_READ_URL "
        f"postgresql://reports:***@127.0.0.1:{port}/hotline): "
    ), done.stderr
    assert "s3cret" not in done.stderr and not out.exists()


def test_the_weekly_job_outlives_a_database_that_does_not_answer(tmp_path) -> None:
    """A database down (or a replica restarting) at a check: the job says why and checks again
    at the next interval instead of ending with a traceback; SIGTERM still ends it cleanly."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env = {
        **clean,
        "PYTHONPATH": str(ROOT),
        "HOTLINE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/hotline",
        "HOTLINE_DATA_DIR": str(tmp_path),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotline", "report", "schedule", "--interval", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        said = "weekly report not written yet: cannot read the database (HOTLINE_DATABASE_URL "
        said += f"postgresql://postgres@127.0.0.1:{port}/hotline): "
        lines: list[str] = []
        while sum(said in line for line in lines) < 2:  # two checks, one second apart
            line = proc.stderr.readline()
            assert line, "".join(lines)  # the process ended
            lines.append(line)
        assert proc.poll() is None
    finally:
        proc.terminate()
        rest = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0, rest
    assert "Traceback" not in "".join(lines) + rest
