"""Calls per hour the simulator sustains with the real controller, and the controller's CPU.

One simulated city (callers through the real IVR, 400 seats that answer at once and talk
0.5 s) in this process; the city's controller (AMI link, ACD on Redis, call records in
SQLite) in a child process, as in production, so its CPU time can be read from /proc. The
call rate goes up in steps; a step is sustained when every caller of the step was answered
(none gave up after 10 s of waiting, none went to the dialplan's fallback). The figure is the
highest sustained rate; the CPU share is the controller's CPU time over the wall time of that
step (1.0 = one core). Each step runs 5 s plus the time its calls take to finish.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from acd.queue.service import Acd
from acd.queue.types import Skill
from loadgen.seats import DirectAcdSeats
from loadgen.traffic import SeatProfile
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SeatBehaviour, SimPbx

SEATS = 400
TALK_S = 0.5
STEP_S = 5.0
PATIENCE_S = 10.0
RATES = (5, 10, 20, 30, 40, 50, 60, 80, 120, 160)  # calls/s
SECRET = "bench"
ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


async def _controller(cfg: dict[str, str]) -> None:
    """The child: one city's controller, exactly as `hotline` wires it."""
    from acd.controller import AcdSettings
    from hotline.controller import build
    from hotline.db import make_engine, session_factory
    from hotline.redis import redis_client
    from hotline.settings import AmiEndpoint, City, Settings

    city = City(name="xa", ami=AmiEndpoint(port=int(cfg["port"]), secret=SECRET), trunk="t-xa")
    settings = Settings(
        cities=[city], redis_url=cfg["redis"], database_url=cfg["db"], data_dir=Path(cfg["dir"])
    )
    engine = make_engine(settings.resolved_database_url)
    async with redis_client(settings) as redis:
        acd_settings = AcdSettings(
            ring_timeout_s=5, wrapup_s={"general": 0, "enterprise": 0}, recordings=cfg["dir"]
        )
        runtime = build(city, settings, redis, session_factory(engine), acd_settings)
        link = runtime.link
        await link.start()
        await link.wait_up(20)
        print("READY", flush=True)
        await runtime.run(tick_s=0.1)


def _upgrade(db: str, data_dir: str) -> None:
    env = {**os.environ, "HOTLINE_DATABASE_URL": db, "HOTLINE_DATA_DIR": data_dir}
    env["PYTHONPATH"] = str(ROOT)
    subprocess.run(
        [sys.executable, "-m", "hotline", "db", "upgrade"], env=env, check=True, capture_output=True
    )


async def _step(pbx: SimPbx, rate: float, base: int) -> tuple[int, int, float]:
    """Place calls at ``rate`` for STEP_S; returns (placed, answered, wall seconds)."""
    before = len(pbx.finished)
    start = time.monotonic()
    n = 0
    while (elapsed := time.monotonic() - start) < STEP_S:
        due = int(elapsed * rate) + 1
        while n < due:
            n += 1
            num = f"139{base + n:08d}"
            pbx.place_call(CallerScript(num, "1", patience_s=PATIENCE_S))
        await asyncio.sleep(0.01)
    for _ in range(int((PATIENCE_S + 5) / 0.05)):  # a call not over by then is lost too
        if len(pbx.finished) - before >= n:
            break
        await asyncio.sleep(0.05)
    wall = time.monotonic() - start
    done = pbx.finished[before:]
    outcomes = Counter(f["outcome"] for f in done)
    outcomes["unfinished"] = n - len(done)
    lost = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()) if k != "answered" and v)
    if lost:
        print(f"# lost: {lost}", flush=True)
    return n, outcomes["answered"], wall


async def _bench(redis_url: str, tmp: str) -> None:
    from redis.asyncio import Redis

    db = f"sqlite+aiosqlite:///{tmp}/bench.sqlite"
    _upgrade(db, tmp)
    seats = {f"{1000 + i}": SeatBehaviour(answer_after_s=0.02, talk_s=TALK_S) for i in range(SEATS)}
    pbx = SimPbx("xa", seats, fallback_after_s=60)
    server = AmiServer(pbx, secret=SECRET)
    port = await server.start()
    redis = Redis.from_url(redis_url, decode_responses=True)
    await redis.flushdb()
    client = DirectAcdSeats(Acd(redis, cities=("xa",)))
    from acd.queue.types import SeatSpec

    for seat_id in seats:
        profile = SeatProfile(seat_id, {Skill.general: 1})
        await client.login(SeatSpec(seat_id, "xa", profile.skills, f"PJSIP/{seat_id}"))
        await client.ready(seat_id)
    cfg = {"port": str(port), "redis": redis_url, "db": db, "dir": tmp}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_sim", "--controller", json.dumps(cfg),
        cwd=str(ROOT), stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        if line.strip() != b"READY":
            raise SystemExit(f"bench: the controller did not start: {line!r}")
        best: tuple[float, float, float] | None = None  # calls/s, controller cpu, sim cpu
        base = 0
        for rate in RATES:
            cpu0, own0, t0 = _cpu_s(child.pid), time.process_time(), time.monotonic()
            placed, answered, _wall = await _step(pbx, rate, base)
            wall = time.monotonic() - t0
            cpu = (_cpu_s(child.pid) - cpu0) / wall
            own = (time.process_time() - own0) / wall
            base += placed
            lost = placed - answered
            print(
                f"# {rate:>4} calls/s: {placed} placed, {lost} lost, "
                f"controller cpu {cpu:.2f}, simulator cpu {own:.2f}",
                flush=True,
            )
            if lost:
                break
            best = (placed / STEP_S, cpu, own)
    finally:
        child.terminate()
        await child.wait()
        await server.stop()
        await redis.flushdb()
        await redis.aclose()
    if best is None:
        raise SystemExit("bench: calls lost even at the lowest rate")
    per_s, cpu, own = best
    print(f"BENCH sim_calls_per_h {per_s * 3600:.0f} calls/h")
    print(f"BENCH sim_controller_cpu_share {cpu:.2f} cores")
    print(f"BENCH sim_simulator_cpu_share {own:.2f} cores")


def run() -> None:
    url = os.environ.get("BENCH_REDIS_URL")
    with tempfile.TemporaryDirectory() as tmp:
        if url:
            print(f"# sim bench on {url}")
            asyncio.run(_bench(url, tmp))
            return
        from hotline.redis import EmbeddedRedis

        server = EmbeddedRedis(Path(tmp))
        print("# sim bench on an embedded Redis (set BENCH_REDIS_URL for a server)")
        try:
            asyncio.run(_bench(server.url, tmp))
        finally:
            server.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--controller":
        asyncio.run(_controller(json.loads(sys.argv[2])))
    else:
        run()
