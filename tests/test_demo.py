"""`make demo` as CI would run it: a real process, embedded defaults, DEMO_SECONDS, JSON last."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

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
    assert "/wallboard" in out.stdout
    recordings = list((tmp_path / "data" / "recordings").rglob("*-in.wav"))  # YYYY/MM/DD/
    assert recordings, "answered calls are recorded"
