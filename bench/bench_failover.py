"""Failover of a city's controller: SIGKILL the active one, time until the standby routes.

Per round: the simulator on a real socket, two `hotline serve --controller xa` processes (one
active, one standby, the default lease HOTLINE_CONTROLLER_LEASE_MS), a caller waiting in the
ACD; the active process is SIGKILLed and a seat gets ready at once; the figure is the time
from the kill to the simulator receiving the new active's Redirect for that caller (lease
expiry + AMI login + resync + the routing tick). BENCH_REDIS_URL names a Redis server; else
an embedded one.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from acd.queue.service import Acd
from acd.queue.types import SeatSpec, Skill
from hotline.redis import EmbeddedRedis, connect
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SeatBehaviour, SimPbx

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 3
WAIT_S = 30.0  # for a step of a round; beyond it the setup is wrong


async def _controller(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    return await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "hotline", "serve", "--controller", "xa"),
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def _line(proc: asyncio.subprocess.Process, pattern: str) -> None:
    assert proc.stdout is not None
    async with asyncio.timeout(WAIT_S):
        while line := await proc.stdout.readline():
            if re.search(pattern, line.decode(errors="replace")):
                return
    raise SystemExit(f"bench: the controller never logged {pattern!r}")


async def _until_redirect(server: AmiServer, after: float) -> float:
    for _ in range(int(WAIT_S * 100)):
        for got in server.received:
            if got.at >= after and got.action == "redirect":
                return got.at
        await asyncio.sleep(0.01)
    raise SystemExit("bench: the waiting caller was never routed after the kill")


async def _queued(acd: Acd, call_id: str) -> None:
    for _ in range(int(WAIT_S * 100)):
        if call_id in await acd.active("xa"):
            return
        await asyncio.sleep(0.01)
    raise SystemExit("bench: the caller was never queued")


async def _round(redis_url: str, tmp: Path) -> float:
    redis = connect(redis_url)
    await redis.flushdb()
    server = AmiServer(SimPbx("xa", {"1001": SeatBehaviour(0.05, 0.2)}), secret="s")
    port = await server.start()
    (tmp / "c.yaml").write_text(
        "callbacks: {hours: '00:00-00:00'}\ncities:\n"
        f"  - {{name: xa, ami: {{host: 127.0.0.1, port: {port}, secret: s}}}}\n"
    )
    env = {
        "HOTLINE_CONFIG": str(tmp / "c.yaml"),
        "HOTLINE_DATA_DIR": str(tmp / "d"),
        "HOTLINE_REDIS_URL": redis_url,
    }
    acd = Acd(redis, cities=("xa",))
    await acd.login(SeatSpec("1001", "xa", {Skill.general: 1}, "PJSIP/1001"))
    procs = [await _controller(env, tmp)]
    try:
        await _line(procs[0], r"controller xa: active")
        procs.append(await _controller(env, tmp))
        await _line(procs[1], r"controller xa: standby")
        call = server.pbx.place_call(CallerScript("13800000001", "1", patience_s=60))
        await _queued(acd, call.linkedid)
        procs[0].kill()
        killed = time.monotonic()
        await acd.ready("1001")
        return await _until_redirect(server, killed) - killed
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
        await server.stop()
        await redis.flushdb()
        await redis.aclose()


def _migrate(tmp: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOTLINE_DATA_DIR": str(tmp / "d")}
    subprocess.run(
        [sys.executable, "-m", "hotline", "db", "upgrade"], env=env, check=True, capture_output=True
    )


def _measure(redis_url: str) -> None:
    figures = []
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            _migrate(Path(tmp))
            figures.append(asyncio.run(_round(redis_url, Path(tmp))))
    print(f"BENCH failover_s {statistics.median(figures):.2f} s")
    print(f"BENCH failover_max_s {max(figures):.2f} s")


def run() -> None:
    url = os.environ.get("BENCH_REDIS_URL")
    if url:
        print(f"# failover bench on {url}, {ROUNDS} rounds")
        _measure(url)
        return
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp))
        print(f"# failover bench on an embedded Redis, {ROUNDS} rounds")
        try:
            _measure(server.url)
        finally:
            server.close()
