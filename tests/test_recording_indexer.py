"""Indexing once MixMonitor has closed its files, and finishing what a stopped controller left.

Files are written the way Asterisk's format_wav writes them: a header with zero sizes while
the file is open, the sizes filled in when it is closed (after the hang-up).
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import shutil
import socket
import struct
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asr.queueing import job_queuer
from hotline.db import make_engine, session_factory
from recording import indexer as indexer_module
from recording.audio import being_written, probe
from recording.indexer import Ended, Indexer, file_state
from recording.models import Recording
from recording.policy import SPEAKERS, base_path, speaker_files
from sim.recorder import open_header
from store import keys
from tests.conftest import AMI_FIXTURES

ARRIVED = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
SOURCE = {
    "caller": AMI_FIXTURES / "mixmonitor_per_speaker-in.wav",
    "seat": AMI_FIXTURES / "mixmonitor_per_speaker-out.wav",
    "mixed": AMI_FIXTURES / "mixmonitor_per_speaker-mixed.wav",
}
Sessions = async_sessionmaker[AsyncSession]


def opened(path: Path, audio: bytes) -> None:
    """A file MixMonitor still writes: the open header, then the audio so far."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(open_header() + audio)


def audio_of(path: Path) -> bytes:
    blob = path.read_bytes()
    return blob[44:]  # the capture's files have the canonical 44-byte header


def files_of(root: Path, call_id: str) -> dict[str, Path]:
    return speaker_files(base_path(root, call_id, 1, ARRIVED))  # type: ignore[return-value]


def open_call(root: Path, call_id: str) -> dict[str, Path]:
    files = files_of(root, call_id)
    for speaker, path in files.items():
        opened(path, audio_of(SOURCE[speaker])[:16000])  # a second so far
    return files


def close_call(files: dict[str, Path]) -> None:
    for speaker, path in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SOURCE[speaker], path)  # what the closed file holds: sizes filled in


async def rows(sessions: Sessions) -> list[Recording]:
    async with sessions() as s:
        return list((await s.scalars(select(Recording).order_by(Recording.id))).all())


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await check():
        assert loop.time() < end, "timed out"
        await asyncio.sleep(0.02)


def test_being_written_reads_the_header(tmp_path: Path) -> None:
    growing = tmp_path / "open.wav"
    opened(growing, bytes(3200))
    assert being_written(growing)
    assert probe(growing).duration_s == 0.0  # what indexing it now would record
    header_only = tmp_path / "just-opened.wav"
    header_only.write_bytes(open_header())
    assert being_written(header_only)
    short = tmp_path / "short.wav"
    short.write_bytes(b"RIFF\0\0")
    assert being_written(short)
    assert not being_written(SOURCE["mixed"])
    # Closed with no audio at all (a call that ended at once): sizes are filled in, zero.
    empty = tmp_path / "empty.wav"
    blob = bytearray(open_header())
    struct.pack_into("<I", blob, 4, 36)
    empty.write_bytes(bytes(blob))
    assert not being_written(empty)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"<html>502</html>" * 10)
    assert not being_written(junk)  # waiting will not make it a WAV: the ASR job says why
    assert not being_written(tmp_path / "missing.wav")


def test_file_state(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    assert file_state(str(root), "c1", ARRIVED, SPEAKERS) == "none"
    files = open_call(root, "c1")
    assert file_state(str(root), "c1", ARRIVED, SPEAKERS) == "open"
    close_call(files)
    assert file_state(str(root), "c1", ARRIVED, SPEAKERS) == "ready"
    files["seat"].unlink()  # one side not there yet
    assert file_state(str(root), "c1", ARRIVED, SPEAKERS) == "open"
    assert file_state(str(root), "c1", ARRIVED, ("caller", "mixed")) == "ready"


async def test_an_open_recording_is_indexed_once_it_is_closed(
    tmp_path: Path, redis: Redis, sessions: Sessions
) -> None:
    root = tmp_path / "rec"
    files = open_call(root, "c1")
    indexer = Indexer(
        sessions, redis, "xa", root, settle_s=(0.05,) * 200, after_index=job_queuer(sessions, redis)
    )
    await indexer.submit(Ended("c1", "1001", ARRIVED, ARRIVED))
    assert await redis.hexists(keys.recordings_to_index("xa:acd"), "c1")
    await asyncio.sleep(0.3)
    assert await rows(sessions) == []  # still open: nothing indexed from half a file
    close_call(files)

    async def indexed() -> bool:
        return len(await rows(sessions)) == 3

    await until(indexed)
    got = {r.speaker: r for r in await rows(sessions)}
    for speaker, source in SOURCE.items():
        assert got[speaker].sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
        assert abs(got[speaker].duration_s - 10.44) < 0.01  # the closed file's length
    await until(lambda: _gone(redis, "xa:acd", "c1"))
    assert await redis.xlen(keys.ASR_STREAM) == 2
    indexer.close()


async def test_a_stopped_indexer_leaves_a_note_that_the_next_one_finishes(
    tmp_path: Path, redis: Redis, sessions: Sessions
) -> None:
    root = tmp_path / "rec"
    files = open_call(root, "c2")
    first = Indexer(sessions, redis, "xa", root, settle_s=(10.0,))
    await first.submit(Ended("c2", "1001", ARRIVED, ARRIVED))
    await asyncio.sleep(0.05)
    first.close()  # the controller stops (or dies) before the files are closed

    async def stopped() -> bool:
        return first.busy == 0

    await until(stopped, timeout=5)
    assert await redis.hexists(keys.recordings_to_index("xa:acd"), "c2")
    # Another loop's notes are its own: the callbacks' indexer does not take this one.
    other = Indexer(sessions, redis, "xa", root, owner="callbacks", settle_s=(0.05,))
    assert await other.resume() == 0
    close_call(files)

    second = Indexer(sessions, redis, "xa", root, settle_s=(0.05,))
    assert await second.resume() == 1

    async def indexed() -> bool:
        return len(await rows(sessions)) == 3

    await until(indexed)
    await until(lambda: _gone(redis, "xa:acd", "c2"))
    assert {r.call_id for r in await rows(sessions)} == {"c2"}
    assert await second.resume() == 0  # nothing left


async def test_a_damaged_note_is_dropped_with_an_error(
    tmp_path: Path, redis: Redis, sessions: Sessions
) -> None:
    await redis.hset(keys.recordings_to_index("xa:acd"), "c3", "{not json")
    assert await Indexer(sessions, redis, "xa", tmp_path).resume() == 0
    assert not await redis.hexists(keys.recordings_to_index("xa:acd"), "c3")


async def _gone(redis: Redis, owner: str, call_id: str) -> bool:
    return not await redis.hexists(keys.recordings_to_index(owner), call_id)


async def test_a_call_with_no_file_at_the_hang_up_is_not_waited_for(
    tmp_path: Path, redis: Redis, sessions: Sessions
) -> None:
    """Not recorded (MixMonitor opens its files with the first audio): done at once."""
    indexer = Indexer(sessions, redis, "xa", tmp_path / "rec", settle_s=(30.0,))
    await indexer.submit(Ended("c4", "1001", ARRIVED, ARRIVED))
    await until(lambda: _gone(redis, "xa:acd", "c4"), timeout=5)  # not 30 s

    async def idle() -> bool:
        return indexer.busy == 0

    await until(idle, timeout=5)
    assert await rows(sessions) == []


async def test_one_call_is_indexed_by_one_task(
    tmp_path: Path, redis: Redis, sessions: Sessions
) -> None:
    """Submitted twice (a note resumed, then the same call closed as an orphan): one task,
    so the two do not race to insert the same paths."""
    root = tmp_path / "rec"
    files = open_call(root, "c5")
    indexer = Indexer(sessions, redis, "xa", root, settle_s=(0.05,) * 100)
    await indexer.submit(Ended("c5", "1001", ARRIVED, ARRIVED))
    await indexer.submit(Ended("c5", "1001", ARRIVED, ARRIVED))
    assert indexer.busy == 1
    close_call(files)

    async def indexed() -> bool:
        return len(await rows(sessions)) == 3 and indexer.busy == 0

    await until(indexed)
    await indexer.submit(Ended("c5", "1001", ARRIVED, ARRIVED))  # done: a new task may run
    assert indexer.busy == 1
    await until(indexed)  # it finds the paths indexed already and adds nothing
    assert len(await rows(sessions)) == 3


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB filesystem of its own (a tmpfs), to be filled up."""
    where = tmp_path / "small"
    where.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)]
    done = subprocess.run(mount, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def fill(root: Path) -> None:
    """Write until the filesystem refuses (ENOSPC), as a recording that filled the disk."""
    with (root / "filler").open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(bytes(65536))
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc


async def test_a_full_disk_is_reported_by_call_at_once(
    small_disk: Path, redis: Redis, sessions: Sessions, caplog: pytest.LogCaptureFixture
) -> None:
    """The files MixMonitor could open on a full disk hold a header at most, the others are
    missing: no wait completes them, so the call is reported and indexed at once (not at the
    end of its settle time, when whoever looks for the report may have looked already)."""
    root = small_disk / "rec"
    files = files_of(root, "c6")
    files["mixed"].parent.mkdir(parents=True)
    files["mixed"].write_bytes(open_header())  # opened; the audio could not be written
    indexer = Indexer(sessions, redis, "xa", root, settle_s=(0.1,) * 300)
    await indexer.submit(Ended("c6", "1001", ARRIVED, ARRIVED))
    await asyncio.sleep(0.5)
    assert await rows(sessions) == []  # room on the disk: the files may still come
    caplog.set_level(logging.WARNING, logger="recording.indexer")
    fill(small_disk)

    async def indexed() -> bool:
        return len(await rows(sessions)) == 1

    await until(indexed, timeout=5)  # not the 30 s of its settle time
    reports = [r.getMessage() for r in caplog.records if "c6" in r.getMessage()]
    assert reports and "disk full" in reports[0], reports
    assert "missing: caller, seat" in reports[0] and "no audio: mixed" in reports[0]
    await until(lambda: _gone(redis, "xa:acd", "c6"), timeout=5)
    indexer.close()


async def test_indexing_waits_for_a_database_that_does_not_answer(
    tmp_path: Path, redis: Redis, sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The call ended while the database restarted: its files are indexed once it is back,
    by the same controller, not left to its next start."""
    monkeypatch.setattr(indexer_module, "DB_RETRY_S", (0.05,) * 100)
    root = tmp_path / "rec"
    close_call(files_of(root, "c9"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nobody = s.getsockname()[1]
    down = make_engine(f"postgresql://postgres@127.0.0.1:{nobody}/gone")
    indexer = Indexer(session_factory(down), redis, "xa", root, settle_s=(0.05,))
    try:
        await indexer.submit(Ended("c9", "1001", ARRIVED, ARRIVED))
        await asyncio.sleep(0.3)
        assert await rows(sessions) == [] and indexer.busy == 1  # still trying
        indexer.sessions = sessions  # the database answers again

        async def indexed() -> bool:
            return len(await rows(sessions)) == 3

        await until(indexed)
        await until(lambda: _gone(redis, "xa:acd", "c9"))
    finally:
        indexer.close()
        await down.dispose()
