"""办结 attachments: how fast files are typed and checked from their bytes (per kind, MB/s),
and a reply with five 2 MB files over real HTTP (uvicorn, embedded Redis, SQLite, files on
disk): milliseconds per reply, and a 2 MB download."""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
from argon2 import PasswordHasher

from api.app import create_app
from api.deps import AppDeps
from api.services import users
from bench.bench_api import pct
from hotline.db import make_engine, session_factory, upgrade
from hotline.redis import EmbeddedRedis
from tests.api_support import served
from tests.attachment_files import JPEG, pdf
from tickets.attachments import MB, Limits, Upload, check
from tickets.lifecycle import Action, Command, Role
from tickets.loop import Actor, act
from tickets.service import create_ticket
from tickets.units import load_units, seed_units, set_member

FILE = 2 * MB
FILES = 5
REPLIES = 20
CHECKS = 20


@dataclass(frozen=True)
class Draft:
    summary: str = "雁塔区丈八沟街道｜道路维修｜路面塌陷"
    category: str = "城乡建设·道路维修"
    request_type: str = "投诉"
    location: str | None = "雁塔区丈八沟街道"
    urgent: bool = False
    department: str | None = None
    tier_days: int = 3


def samples() -> dict[str, bytes]:
    """About 2 MB of each kind, incompressible where it can be (a photo is)."""
    noise = os.urandom(FILE)
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
        z.writestr("word/media/image1.jpg", noise)
    return {
        "jpeg": JPEG[:-2] + noise + b"\xff\xd9",
        "pdf": pdf()[:-6] + noise + b"\n%%EOF\n",
        "docx": docx.getvalue(),
    }


def bench_check() -> None:
    limits = Limits(max_file_bytes=4 * MB, max_files=FILES, max_reply_bytes=20 * MB)
    for kind, data in samples().items():
        uploads = [Upload(f"x.{kind}", data)] * FILES
        start = time.perf_counter()
        for _ in range(CHECKS):
            check(uploads, limits)
        seconds = time.perf_counter() - start
        rate = CHECKS * FILES * len(data) / MB / seconds
        print(f"BENCH attach_check_{kind}_mb_per_s {rate:.0f} MB/s")


async def _setup(tmp: Path, url: str) -> tuple[AppDeps, list[int]]:
    from redis.asyncio import Redis

    engine = make_engine(f"sqlite+aiosqlite:///{tmp / 'bench.sqlite3'}")
    await upgrade(engine)
    sessions = session_factory(engine)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("bench-password")
    user = await users.create(sessions, "jd", "", "unit", None, password_hash=cheap)
    ids = []
    async with sessions() as s:
        units = await seed_units(s, load_units())
        await set_member(s, user.id, "雁塔区丈八沟街道")
        disp, unit = (
            Actor("disp", Role.DISPATCHER),
            Actor("jd", Role.UNIT, units["雁塔区丈八沟街道"]),
        )
        for n in range(REPLIES):
            t = await create_ticket(s, Draft(), call_id=f"b{n}", caller_number="13812345678")
            lead = (units["雁塔区丈八沟街道"],)
            await act(s, t.id, Command(Action.DISPATCH, Role.DISPATCHER, units=lead), disp)
            await act(s, t.id, Command(Action.SIGN, Role.UNIT), unit)
            ids.append(t.id)
    redis: Redis = Redis.from_url(url, decode_responses=True)
    deps = AppDeps(
        redis=redis,
        engine=engine,
        cities=("xa",),
        sessions=sessions,
        attachments_dir=tmp / "data",
        attachment_limits=Limits(max_file_bytes=4 * MB, max_files=FILES, max_reply_bytes=20 * MB),
    )
    return deps, ids


async def _run(tmp: Path, url: str) -> None:
    deps, ids = await _setup(tmp, url)
    photo = samples()["jpeg"]
    files = [("files", (f"现场{i}.jpg", photo, "image/jpeg")) for i in range(FILES)]
    replies, downloads = [], []
    try:
        async with (
            served(create_app(deps)) as base,
            httpx.AsyncClient(base_url=base, timeout=60) as client,
        ):
            r = await client.post(
                "/api/auth/login", json={"username": "jd", "password": "bench-password"}
            )
            auth = {"Authorization": f"Bearer {r.json()['token']}"}
            for tid in ids:
                t = time.perf_counter()
                resp = await client.post(
                    f"/api/ticket-replies/{tid}",
                    headers=auth,
                    data={"reason": "已修复"},
                    files=files,
                )
                replies.append((time.perf_counter() - t) * 1000)
                if resp.status_code != 200:
                    raise SystemExit(f"bench: reply answered {resp.status_code} {resp.text[:200]}")
                url_ = resp.json()["attachments"][0]["url"]
                t = time.perf_counter()
                got = await client.get(url_, headers=auth)
                downloads.append((time.perf_counter() - t) * 1000)
                if got.content != photo:
                    raise SystemExit("bench: the download differs from the upload")
    finally:
        await deps.redis.flushdb()
        await deps.redis.aclose()
        await deps.engine.dispose()
    print(f"BENCH attach_reply_5x2mb_p50_ms {pct(replies, 0.5):.0f} ms")
    print(f"BENCH attach_reply_5x2mb_p95_ms {pct(replies, 0.95):.0f} ms")
    rate = FILES * len(photo) / MB / (pct(replies, 0.5) / 1000)
    print(f"BENCH attach_reply_mb_per_s {rate:.0f} MB/s")
    print(f"BENCH attach_download_2mb_p50_ms {pct(downloads, 0.5):.1f} ms")


def run() -> None:
    print(f"# attachments bench: check() on {FILES} files of each kind x{CHECKS}; then {REPLIES}")
    print(f"# replies with {FILES} x 2 MB photos over uvicorn + embedded Redis + SQLite, serial")
    bench_check()
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp))
        try:
            asyncio.run(_run(Path(tmp), server.url))
        finally:
            server.close()
