"""`hotline asr transcribe`, `hotline asr search` and `hotline recordings prune` as an
operator runs them: real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asr.engine import Transcriber
from recording.models import Recording
from tests.asr_support import sox

# One worker runs every test that decodes, in file order: a kept Vosk recognizer's output
# can depend on what it decoded before (see asr/engine.py), and the exact comparisons with
# raw Vosk assume the order of a serial run.
pytestmark = pytest.mark.xdist_group("vosk")

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    return subprocess.run(
        [sys.executable, "-m", "hotline", *args],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_transcribe_json(
    tmp_path: Path, transcriber: Transcriber, asr_model_dir: Path, speech_dir: Path
) -> None:
    caller = tmp_path / "c1-1-in.wav"
    sox(str(speech_dir / "noise-8k.wav"), str(caller))
    broken = tmp_path / "broken.wav"
    broken.write_bytes(caller.read_bytes()[:1000])
    out = run(
        "asr",
        "transcribe",
        str(caller),
        str(broken),
        "--json",
        HOTLINE_ASR_MODEL=str(asr_model_dir),
    )
    assert out.returncode == 1, out.stderr  # one file failed
    got = json.loads(out.stdout)
    assert [g["file"] for g in got] == [str(caller), str(broken)]
    first, bad = got
    expected = transcriber.transcribe_file(caller)
    assert first["text"] == expected.text and first["text"]
    assert [c["speaker"] for c in first["channels"]] == ["caller"]
    segs = first["channels"][0]["segments"]
    assert [s["text"] for s in segs] == [s.text for s in expected.channels[0].segments]
    assert set(segs[0]) == {"start", "end", "text", "confidence", "words"}
    assert set(segs[0]["words"][0]) == {"word", "start", "end", "conf"}
    assert "truncated WAV" in bad["error"]
    assert "1 of 2 file(s) transcribed" in out.stderr and "1 failed" in out.stderr


def test_transcribe_without_a_model_says_where_to_set_it(tmp_path: Path) -> None:
    out = run("asr", "transcribe", "x.wav", HOTLINE_ASR_MODEL=str(tmp_path / "nothing"))
    assert out.returncode == 2
    assert "not a Vosk model directory" in out.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_prune_and_search_commands(
    tmp_path: Path, database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    old = tmp_path / "old.wav"
    old.write_bytes(b"RIFF")
    async with sessions.begin() as s:
        s.add(
            Recording(
                call_id="c1",
                city="xa",
                speaker="caller",
                path=str(old),
                format="wav-pcm16",
                size_bytes=4,
                sha256="0" * 64,
                started_at=datetime.now(UTC) - timedelta(days=9),
            )
        )
    env = {"HOTLINE_DATABASE_URL": database_url, "HOTLINE_DATA_DIR": str(tmp_path)}
    dry = run("recordings", "prune", "--days", "30", **env)
    assert dry.returncode == 0 and "deleted 0 file(s)" in dry.stdout and old.exists()
    out = run("recordings", "prune", "--days", "7", "--json", **env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["deleted"] == [str(old)] and not old.exists()
    found = run("asr", "search", " ", **env)
    assert found.returncode == 2 and "search text is empty" in found.stderr
