"""`make demo`: three simulated cities, traffic, the controllers and the API, on embedded defaults.

Runs until Ctrl-C, or for DEMO_SECONDS seconds; then prints, as its last line, a one-line
JSON summary. The traffic (loadgen/traffic.py, the ``peak`` profile so the demo looks the same at
any hour) is shaped so that within 40 seconds everything happens: 西安 (xa) is short of seats
so its callers overflow to 咸阳 and 宝鸡 (多援一); impatient callers hang up, which writes
callback tasks; some seat operators bring a department into the call (三方通话). The
simulated operators log in and click through the seat API (loadgen.seat_http), as people would.
Answered calls are recorded: the simulator writes real WAV files under data/demo/recordings.
The demo keeps to its own data dir, data/demo (database, embedded Redis, recordings).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import math
import os
import sys
from datetime import UTC, datetime

import httpx
from redis.asyncio import Redis
from sqlalchemy import func, inspect, or_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from acd.callbacks import tasks as callbacks
from acd.calls.records import caller_history
from acd.controller import AcdSettings
from acd.queue import overflow
from acd.queue.service import Acd
from acd.queue.stats import MINUTE_TTL_S, Stats
from acd.queue.types import Skill
from api.seed import DEMO_PASSWORD, demo_knowledge, demo_users
from asr.calldraft import CallDrafts
from asr.engine import ModelError, Transcriber, resolve_model_path
from asr.models import Transcript
from asr.worker import AsrWorker, WorkerSettings
from hotline.controller import build
from hotline.db import make_engine, session_factory, upgrade
from hotline.redis import redis_client
from hotline.serve import serve_api
from hotline.settings import (
    AmiEndpoint,
    CallbackConfig,
    City,
    ConfigError,
    Settings,
    load_settings,
)
from knowledge.models import KbEntry
from loadgen.seat_http import HttpSeats
from loadgen.traffic import CityProfile, SeatProfile, Traffic
from pbx.link import AmiLink
from sim import outbound
from sim.ami_server import AmiServer
from sim.engine import SimPbx
from sim.recorder import Recorder
from tickets.models import Department
from tickets.workdays import WorkCalendar

SECRET = "demo-sim"
REPORT_EVERY_S = 10.0  # one progress line per city this often (DEMO_REPORT_EVERY)
DEMO_DEPARTMENT = ("市城管局（演示）", "8001")
# Round the clock and quick, so a 40-second demo at any hour shows callbacks being made.
DEMO_CALLBACKS = CallbackConfig(
    hours="00:00-00:00", max_attempts=2, backoff_s=5, seat_ring_s=6, citizen_ring_s=10, wrapup_s=2
)


def _seats(city_index: int, n: int, conference_p: float) -> tuple[SeatProfile, ...]:
    out = []
    for k in range(n):
        skills = {Skill.general: 1, Skill.enterprise: 2} if k % 2 else {Skill.general: 1}
        out.append(
            SeatProfile(
                f"{city_index + 1}{k + 1:03d}",
                skills,
                answer_p=0.9,  # one ring in ten is missed: the call goes back to its place
                answer_s=(1.0, 3.0),
                talk_s=6.0,
                wrapup_s=1.5,
                conference_p=conference_p,
            )
        )
    # The city's 漏话回拨 desk: one seat that only calls back (the seeds' 专席).
    out.append(SeatProfile(f"{city_index + 1}{n + 1:03d}", {Skill.callback: 1}, talk_s=5.0))
    return tuple(out)


DEMO_CITIES = (
    # Short of seats and busy: callers wait, overflow after 8 s, the impatient hang up.
    CityProfile("xa", "西安", _seats(0, 2, 0.3), 48.0, "peak", ("xy", "bj"), patience_s=10.0),
    CityProfile("xy", "咸阳", _seats(1, 5, 0.3), 8.0, "peak", ("xa", "bj"), patience_s=40.0),
    CityProfile("bj", "宝鸡", _seats(2, 5, 0.3), 8.0, "peak", ("xa", "xy"), patience_s=40.0),
)


async def _start_sims(recorder: Recorder) -> tuple[list[tuple[SimPbx, AmiServer]], list[City]]:
    sims: list[tuple[SimPbx, AmiServer]] = []
    cities = []
    for demo in DEMO_CITIES:
        pbx = SimPbx(demo.name, {}, fallback_after_s=90, recorder=recorder)
        phones = outbound.of(pbx)
        # The department picks up the three-way call; most citizens answer their callback.
        phones.phones[DEMO_DEPARTMENT[1]] = outbound.PhoneBehaviour(answer_after_s=1.5, talk_s=5)
        phones.other_phones = outbound.PhoneBehaviour(answer_after_s=2.0, talk_s=4)
        server = AmiServer(pbx, username="hotline", secret=SECRET)
        port = await server.start()
        sims.append((pbx, server))
        cities.append(
            City(
                name=demo.name,
                label=demo.label,
                partners=list(demo.partners),
                trunk=f"trunk-{demo.name}",
                ami=AmiEndpoint(port=port, secret=SECRET),
            )
        )
    return sims, cities


async def _departments(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, ...]:
    """The demo's department, on duty round the clock, whose phone the simulator answers
    (the real directory's numbers and duty hours would make the demo depend on the hour)."""
    name, number = DEMO_DEPARTMENT
    async with sessions() as session:
        dept = await session.scalar(select(Department).where(Department.name == name))
        if dept is None:
            dept = Department(name=name, number=number, duty_hours="00:00-24:00")
            session.add(dept)
            await session.commit()
        return (dept.id,)


async def _accounts(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Staff accounts for the pages (password in the README), one per simulated seat."""
    seats = [
        (sp.seat_id, demo.name, {str(k): v for k, v in sp.skills.items()}, f"PJSIP/{sp.seat_id}")
        for demo in DEMO_CITIES
        for sp in demo.seats
    ]
    await demo_users(sessions, seats)


def demo_settings(settings: Settings) -> Settings:
    """The demo keeps to its own data dir (data/demo): its accounts with the published
    password, its flushed Redis and its recordings never land in a production data dir."""
    data_dir = settings.data_dir / "demo"
    update: dict[str, object] = {"data_dir": data_dir}
    if settings.recordings_dir is None:
        update["recordings_dir"] = data_dir / "recordings"
    return settings.model_copy(update=update)


async def _run(
    settings: Settings,
    seconds: float | None,
    summary: dict[str, object],
    report_every_s: float = REPORT_EVERY_S,
) -> None:
    started = datetime.now(UTC)  # the database outlives a demo run; count this run only
    recordings = settings.resolved_recordings_dir
    recorder = Recorder("zh", cache_dir=settings.data_dir / "sim-voices")
    sims, cities = await _start_sims(recorder)
    settings = settings.model_copy(update={"cities": cities, "callbacks": DEMO_CALLBACKS})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    await upgrade(engine)  # its own database (data/demo), which `hotline db upgrade` did not see
    sessions = session_factory(engine)
    tasks: list[asyncio.Task[None]] = []
    links: list[AmiLink] = []
    async with redis_client(settings) as redis:
        if not settings.redis_url:
            await redis.flushdb()  # the embedded Redis is the demo's own: start from zero
        acd = Acd(redis, cities=tuple(c.name for c in cities))
        for demo in DEMO_CITIES:
            rule = overflow.OverflowRule(wait_s=8, all_cities_wait_s=None)
            await overflow.configure(redis, demo.name, demo.partners, rule)
        await _accounts(sessions)
        await demo_knowledge(sessions)
        for index, demo in enumerate(DEMO_CITIES):
            runtime = build(
                cities[index],
                settings,
                redis,
                sessions,
                AcdSettings(
                    ring_timeout_s=6,
                    helpers=demo.partners,
                    recordings=str(recordings),
                    callback_after_s=1,  # short, so a 40-second demo shows callbacks
                    wrapup_s={"general": 3, "enterprise": 4, "callback": 2},
                ),
            )
            link = runtime.link
            await link.start()
            links.append(link)
            tasks.append(asyncio.create_task(runtime.run(tick_s=0.25)))
        for link in links:
            await link.wait_up(10)
        asr = await _asr_worker(settings, redis, sessions)
        if asr is not None:
            tasks.append(asyncio.create_task(asr.run()))
        host, port = settings.api.host, settings.api.port
        tasks.append(asyncio.create_task(serve_api(settings, redis, engine, host, port)))
        base = f"http://{host}:{port}"
        await _api_up(base)
        # The simulated operators use the seat API, as people at the seat page would.
        seats = HttpSeats(base, DEMO_PASSWORD)
        traffic = Traffic(
            [(demo, pbx) for demo, (pbx, _s) in zip(DEMO_CITIES, sims, strict=True)],
            seats,
            redis=redis,
            departments=await _departments(sessions),
            conferences=True,
        )
        await traffic.staff()
        print(f"health:     http://{host}:{port}/health", flush=True)
        print(f"wallboard:  http://{host}:{port}/wallboard", flush=True)
        print(f"seat page:  http://{host}:{port}/seat   QA: http://{host}:{port}/qa", flush=True)
        print(f"knowledge:  http://{host}:{port}/knowledge   (政策知识库)", flush=True)
        print(
            f"log in as:  dispatcher, qa, admin, knowledge, seat1001 ... "
            f"(password {DEMO_PASSWORD})",
            flush=True,
        )
        print(f"recordings: {recordings}", flush=True)
        traffic.start()
        report = asyncio.create_task(_report(acd, sessions, started, report_every_s))
        try:
            await _until_done(tasks[-1], seconds)
        finally:
            report.cancel()
            await asyncio.gather(report, return_exceptions=True)
            await traffic.stop()
            await seats.close()
            await asyncio.sleep(1.0)
            summary.update(await _summary(acd, sessions, engine, started))
            if asr is not None:
                asr.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for link in links:
                await link.close()
            for pbx, server in sims:
                await server.stop()
                await pbx.recordings_written()
            await engine.dispose()


async def _until_done(api: asyncio.Task[None], seconds: float | None) -> None:
    """After DEMO_SECONDS, or when the API ends: uvicorn takes Ctrl-C and SIGTERM, and ends."""
    timer = asyncio.create_task(asyncio.sleep(seconds if seconds is not None else math.inf))
    try:
        done, _ = await asyncio.wait([api, timer], return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
    if api in done:
        print("demo: stopping", flush=True)


async def _report(
    acd: Acd, sessions: async_sessionmaker[AsyncSession], started: datetime, every_s: float
) -> None:
    """One line per city every few seconds, counted since the run started: what a watcher
    of the terminal needs to see that calls are routed, overflow and get called back."""
    stats = Stats(acd.redis)
    while True:
        await asyncio.sleep(every_s)
        now = acd.clock()
        minutes = int((now - started.timestamp() * 1000) // 60_000) + 2
        window = minutes if minutes <= MINUTE_TTL_S // 60 else None
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        for city in DEMO_CITIES:
            total = dict.fromkeys(("offered", "answered", "abandoned", "out", "in"), 0)
            for skill in Skill:
                w = await stats.window(city.name, skill, now, window)
                total["offered"] += w.offered
                total["answered"] += w.answered
                total["abandoned"] += w.abandoned
                total["out"] += w.overflow_out
                total["in"] += w.overflow_in
            states = [(await acd.seat(sp.seat_id)).state.value for sp in city.seats]
            ready = sum(st in ("ready", "ringing", "busy", "wrapup") for st in states)
            print(
                f"{stamp} {city.name}: offered {total['offered']} answered {total['answered']} "
                f"abandoned {total['abandoned']} overflow out {total['out']} in {total['in']}; "
                f"seats working {ready}/{len(states)}",
                flush=True,
            )
        made = await callbacks.count(sessions, since=started)
        connected = await _connected_callbacks(sessions, started)
        print(f"{stamp} callbacks: created {made}, connected {connected}", flush=True)


async def _asr_worker(
    settings: Settings, redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> AsrWorker | None:
    """One ASR worker thread, so QA sees transcripts and seats drafts; off without a model."""
    try:
        path = resolve_model_path(settings.asr_model)
    except ModelError as exc:
        print(f"asr:        off ({exc})", flush=True)
        return None
    transcriber = await asyncio.to_thread(Transcriber, path)  # seconds: off the event loop
    calendar = WorkCalendar.from_file(settings.holidays_file)
    drafts = CallDrafts(sessions, calendar=calendar, history=caller_history)
    worker = AsrWorker(redis, sessions, transcriber, WorkerSettings(threads=1), drafts=drafts)
    print(
        f"asr:        model {transcriber.name}, 1 thread (HOTLINE_ASR_MODEL: a Chinese model)",
        flush=True,
    )
    return worker


async def _api_up(base: str, within_s: float = 20.0) -> None:
    """Wait for the API's socket: the operators log in through it."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within_s
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while True:
            try:
                await client.get("/health")
                return
            except httpx.TransportError:
                if loop.time() > end:
                    raise
                await asyncio.sleep(0.1)


async def _three_way(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], started: datetime
) -> int | None:
    """Conferences that connected a department (the calls helper's table), None without it."""
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    if "call_transfers" not in tables:
        return None
    async with sessions() as session:
        query = text(
            "SELECT count(*) FROM call_transfers WHERE kind = 'conference' "
            "AND result = 'connected' AND requested_at >= :since"
        )
        return int(await session.scalar(query, {"since": started}) or 0)


async def _summary(
    acd: Acd,
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    started: datetime,
) -> dict[str, object]:
    stats = Stats(acd.redis)
    now = acd.clock()
    # The run's own minutes (Redis was flushed at its start): "today" would start again at
    # midnight in Shanghai (16:00 UTC) and lose what came before. Minute buckets live 2 h.
    minutes = int((now - started.timestamp() * 1000) // 60_000) + 2
    window = minutes if minutes <= MINUTE_TTL_S // 60 else None
    offered = answered = abandoned = overflowed = in_sl = ended = 0
    for city in (c.name for c in DEMO_CITIES):
        for skill in Skill:
            w = await stats.window(city, skill, now, window)
            offered += w.offered
            answered += w.answered
            abandoned += w.abandoned
            overflowed += w.overflow_out
            if w.service_level is not None:
                in_sl += round(w.service_level * (w.answered + w.abandoned))
                ended += w.answered + w.abandoned
    not_built: list[str] = []
    if importlib.util.find_spec("sim.outbound") is None:
        not_built.append("callbacks_connected (the simulator cannot place callback calls yet)")
    three_way = await _three_way(engine, sessions, started)
    if three_way is None:
        not_built.append("three_way (no call_transfers table yet)")
    return {
        "offered": offered,
        "answered": answered,
        "abandoned": abandoned,
        "overflowed": overflowed,
        "callbacks_created": await callbacks.count(sessions, since=started),
        "callbacks_connected": await _connected_callbacks(sessions, started),
        "three_way": three_way or 0,
        "transcripts": await _transcripts(sessions, started),
        "kb_entries": await _kb_entries(sessions),
        "service_level": round(in_sl / ended, 3) if ended else None,
        "not_built_yet": not_built,
    }


async def _transcripts(sessions: async_sessionmaker[AsyncSession], since: datetime) -> int:
    async with sessions() as session:
        found = await session.scalar(
            select(func.count()).select_from(Transcript).where(Transcript.created_at >= since)
        )
    return int(found or 0)


async def _kb_entries(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Published entries a seat's search can find (valid now, not withdrawn)."""
    now = datetime.now(UTC)
    async with sessions() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(KbEntry)
            .where(
                KbEntry.withdrawn.is_(False),
                KbEntry.valid_from <= now,
                or_(KbEntry.valid_to.is_(None), KbEntry.valid_to > now),
            )
        )
    return int(found or 0)


async def _connected_callbacks(sessions: async_sessionmaker[AsyncSession], since: datetime) -> int:
    return await callbacks.count(sessions, status="connected", since=since)


def main() -> None:
    raw = os.environ.get("DEMO_SECONDS")
    try:
        seconds = float(raw) if raw else None
    except ValueError:
        sys.exit(f"demo: DEMO_SECONDS={raw!r} is not a number")
    raw_every = os.environ.get("DEMO_REPORT_EVERY")
    try:
        every = float(raw_every) if raw_every else REPORT_EVERY_S
    except ValueError:
        every = -1.0
    if not every > 0 or math.isinf(every):
        sys.exit(f"demo: DEMO_REPORT_EVERY={raw_every!r} is not a positive number of seconds")
    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.exit(f"demo: {exc}")
    summary: dict[str, object] = {}
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(demo_settings(settings), seconds, summary, every))
    print(json.dumps(summary, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
