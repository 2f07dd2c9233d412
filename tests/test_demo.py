"""`make demo` as CI would run it: a real process, embedded defaults, DEMO_SECONDS, JSON last."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.test_cli import free_port, run
from tests.test_embedded_redis_shared import servers_on

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_and_prints_its_summary(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        PYTHONPATH=str(ROOT),
        HOTLINE_DATA_DIR=str(tmp_path / "data"),
        HOTLINE_API__PORT=str(port),
        DEMO_SECONDS="40",  # the README promises every counter moves within 40 s
    )
    up = subprocess.run(
        [sys.executable, "-m", "hotline", "db", "upgrade"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert up.returncode == 0, up.stderr
    out = subprocess.run(
        [sys.executable, "-m", "hotline.demo"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    for key in (
        "offered",
        "answered",
        "abandoned",
        "overflowed",
        "callbacks_created",
        "callbacks_connected",
        "three_way",
        "transcripts",
        "service_level",
        "kb_entries",
    ):
        assert key in summary
    assert summary["offered"] > 0 and summary["answered"] > 0
    assert summary["answered"] + summary["abandoned"] <= summary["offered"]
    assert 0 <= summary["service_level"] <= 1
    # The traffic's shape: 西安 is short of seats (多援一 overflow), callers are impatient.
    assert summary["overflowed"] > 0, summary
    assert summary["abandoned"] > 0, summary
    assert summary["callbacks_created"] > 0, summary
    assert summary["callbacks_connected"] > 0, summary  # the 漏话回拨 desk called back
    assert summary["three_way"] > 0, summary  # seats brought a department into the call
    assert summary["transcripts"] > 0, summary  # the demo's ASR worker transcribed recordings
    assert summary["not_built_yet"] == [], summary
    assert summary["kb_entries"] == 1000, summary  # the sample base a seat's search reads
    assert "/wallboard" in out.stdout and "/knowledge" in out.stdout
    assert "xa: offered" in out.stdout and "callbacks: created" in out.stdout  # progress lines
    assert (tmp_path / "data" / "demo" / "hotline.sqlite3").exists()
    # The demo keeps to data/demo: recordings, and its accounts in its own database.
    recordings = list((tmp_path / "data" / "demo" / "recordings").rglob("*-in.wav"))
    assert recordings, "answered calls are recorded"


async def test_demo_survives_doctor_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """`hotline doctor` beside the demo leaves its Redis alone; SIGTERM ends the demo with its
    summary, and no redis-server outlives it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        PYTHONPATH=str(ROOT),
        HOTLINE_DATA_DIR=str(tmp_path / "data"),
        HOTLINE_API__PORT=str(port),
        HOTLINE_ASR_MODEL=str(tmp_path / "no-model"),  # no ASR: not what is tested here
        DEMO_REPORT_EVERY="1",
    )
    demo_dir = tmp_path / "data" / "demo"
    socket_file = demo_dir.resolve() / "redis.sock"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hotline.demo", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        while not any("xa: offered" in line for line in lines):
            raw = await asyncio.wait_for(proc.stdout.readline(), 90)
            assert raw, "".join(lines)
            lines.append(raw.decode())
        doctor_env = {"HOTLINE_DATA_DIR": str(demo_dir)}
        doctor = await asyncio.to_thread(run, ["doctor"], doctor_env, tmp_path)
        assert "FAIL redis" not in doctor.stdout, doctor.stdout
        assert socket_file.exists(), "doctor removed the demo's Redis socket"
        async with httpx.AsyncClient(timeout=5) as client:
            health = await client.get(f"http://127.0.0.1:{port}/health")
        assert health.status_code == 200, health.text
        assert len(servers_on(socket_file)) == 1
        proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for pid in servers_on(socket_file):
            os.kill(pid, signal.SIGKILL)
    out = "".join(lines) + rest.decode()
    assert proc.returncode == 0, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["offered"] > 0, summary
    assert servers_on(socket_file) == [], "the demo left its redis-server after SIGTERM"
