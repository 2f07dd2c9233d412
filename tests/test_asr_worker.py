"""The ASR worker end to end: index -> stream -> Vosk in a thread -> transcripts -> draft.

Real Redis (consumer group, XAUTOCLAIM), real databases, the real Vosk model (dither off:
the worker's transcript must equal what raw Vosk gives for the same samples).
"""

from __future__ import annotations

import asyncio
import audioop
import os
import signal
import socket
import sys
import wave
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from acd.calls.records import caller_history
from acd.calls.tables import CallRecord
from asr.calldraft import CallDrafts
from asr.engine import Transcriber
from asr.jobs import Job, enqueue, ensure_group
from asr.models import AsrJob, CallDraft, Transcript, TranscriptSegment
from asr.queueing import job_queuer, sweep, unqueued
from asr.store import search
from asr.worker import AsrWorker, WorkerSettings
from recording.index import index_call
from recording.models import Recording
from recording.policy import base_path, speaker_files
from store import keys
from tests.asr_support import FreshEachFile, raw_vosk_fresh, sox
from tests.conftest import DB_BACKENDS, REDIS_BACKENDS

if TYPE_CHECKING:
    from asr.draft import DraftBuilder  # loaded by its fixture: jieba's dictionary is slow

# One test worker runs every test that decodes (one model in memory, not one per worker).
# A kept Vosk recognizer's output can depend on what it decoded before, so the exact
# comparisons with raw Vosk give both sides the same history (tests/asr_support.py:
# fresh_pipeline, FreshEachFile, raw_vosk_fresh), whatever ran before them.
pytestmark = pytest.mark.xdist_group("vosk")

ARRIVED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# Decoding costs seconds: the embedded defaults and the servers, not every mix of the two.
BACKENDS = pytest.mark.parametrize(
    ("redis_url", "database_url"),
    sorted({("embedded", "sqlite"), (REDIS_BACKENDS[-1], DB_BACKENDS[-1])}),
    indirect=True,
)
Sessions = async_sessionmaker[AsyncSession]


def make_call(root: Path, call_id: str, speech: Path) -> dict[str, Path]:
    """Per-speaker files as MixMonitor writes them: the seat speaks first, then the caller."""
    files = speaker_files(base_path(root, call_id, 1, ARRIVED))
    files["caller"].parent.mkdir(parents=True, exist_ok=True)
    sox(str(speech / "weather-8k.wav"), str(files["seat"]))
    sox(str(speech / "noise-8k.wav"), str(files["caller"]), "pad", "3.5", "0")
    sox("-m", str(files["seat"]), str(files["caller"]), str(files["mixed"]))
    return files


async def index(sessions: Sessions, redis: Redis, call_id: str, root: Path) -> list[int]:
    """Index a call of seat 1001 in xa, as the controller does when it ends."""
    return await index_call(
        sessions,
        job_queuer(sessions, redis),
        call_id=call_id,
        city="xa",
        seat_id="1001",
        root=root,
        arrived_at=ARRIVED,
        started_at=ARRIVED,
    )


def upsampled(src: Path, dst: Path) -> Path:
    with wave.open(str(src)) as w:
        data, _ = audioop.ratecv(w.readframes(w.getnframes()), 2, 1, w.getframerate(), 16000, None)
    with wave.open(str(dst), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(data)
    return dst


async def until(predicate: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    # A check that itself hangs (a query stuck on a lock) fails here, not at pytest's timeout,
    # and says where every task was: a CI run saw this test's worker stop making progress on
    # PostgreSQL after logging both jobs failed (not reproduced in 30 runs here).
    try:
        while not await asyncio.wait_for(predicate(), max(end - loop.time(), 1.0)):
            assert loop.time() < end, "timed out"
            await asyncio.sleep(0.05)
    except (AssertionError, TimeoutError):
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.print_stack(file=sys.stdout)
        raise


async def count(sessions: Sessions, what: object) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(what)) or 0)  # type: ignore[arg-type]


async def run_worker(worker: AsrWorker, done: Callable[[], Awaitable[bool]]) -> None:
    task = asyncio.create_task(worker.run())
    try:
        await until(done)
    finally:
        worker.stop()
        task.cancel()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 20)


async def pending(redis: Redis) -> int:
    info = await redis.xpending(keys.ASR_STREAM, keys.ASR_GROUP)
    return int(info["pending"])


@pytest.fixture(scope="module")
def drafts_builder():  # jieba's dictionary loads once for the module
    from asr.draft import DraftBuilder

    return DraftBuilder()


@BACKENDS
async def test_call_to_transcripts_to_draft(
    tmp_path: Path,
    redis: Redis,
    sessions: Sessions,
    transcriber: Transcriber,
    speech_dir: Path,
    drafts_builder,
) -> None:
    files = make_call(tmp_path / "rec", "c1", speech_dir)
    async with sessions.begin() as s:
        # An earlier call of the same number, with its draft: the trend and repeat flag.
        s.add(
            CallRecord(
                call_id="c0",
                city="xa",
                caller_num="13800000001",
                entered_at=ARRIVED - timedelta(days=2),
            )
        )
        s.add(CallDraft(call_id="c0", draft={"emotion": "愤怒", "category": "城乡建设·施工扰民"}))
        s.add(CallRecord(call_id="c1", city="xa", caller_num="13800000001", entered_at=ARRIVED))
    await index(sessions, redis, "c1", tmp_path / "rec")
    worker = AsrWorker(
        redis,
        sessions,
        FreshEachFile(transcriber),  # exact comparisons below: no recognizer history
        WorkerSettings(threads=2),
        drafts=CallDrafts(sessions, drafts_builder, history=caller_history),
    )

    async def drafted() -> bool:
        async with sessions() as s:
            row = await s.scalar(select(CallDraft.id).where(CallDraft.call_id == "c1"))
        return row is not None and await pending(redis) == 0  # acknowledged after the draft

    await run_worker(worker, drafted)

    async with sessions() as s:
        recs = {r.speaker: r for r in (await s.scalars(select(Recording))).all()}
        transcripts = {
            t.speaker: t
            for t in (
                await s.scalars(select(Transcript).options(selectinload(Transcript.segments)))
            ).all()
        }
        segments = (await s.scalars(select(TranscriptSegment))).all()
        outcomes = (await s.scalars(select(AsrJob))).all()
        draft = await s.scalar(select(CallDraft).where(CallDraft.call_id == "c1"))
    assert sorted(transcripts) == ["caller", "seat"]  # the mixed file is not transcribed
    for speaker in ("caller", "seat"):
        t = transcripts[speaker]
        assert t.recording_id == recs[speaker].id and t.call_id == "c1"
        same = upsampled(files[speaker], tmp_path / f"{speaker}.wav")
        [raw] = raw_vosk_fresh(transcriber.model, [same])
        assert [seg.text for seg in sorted(t.segments, key=lambda x: x.start_s)] == raw
        assert t.text == " ".join(raw) and t.audio_s > 3
    caller_segments = [g for g in segments if g.speaker == "caller"]
    assert caller_segments and all(g.start_s >= 3.0 for g in caller_segments)  # after the pad
    assert all(g.words and g.words[0]["start"] == g.start_s for g in segments)
    assert sorted((o.status, o.deliveries) for o in outcomes) == [("done", 1), ("done", 1)]
    assert draft is not None and draft.source == "asr"
    assert draft.draft["emotion_trend"][0] == "愤怒" and draft.draft["repeat_caller"] is True
    assert await pending(redis) == 0
    word = transcripts["caller"].text.split()[1]
    hits = await search(sessions, word)
    assert hits and all(word in h.text for h in hits)


# Every kind on the embedded defaults; the servers see one (the path is the same).
@pytest.mark.parametrize(
    ("redis_url", "database_url", "kind"),
    [("embedded", "sqlite", k) for k in ("truncated", "not audio", "empty", "deleted")]
    + [(REDIS_BACKENDS[-1], DB_BACKENDS[-1], "truncated")],
    indirect=["redis_url", "database_url"],
)
async def test_corrupt_audio_is_failed_once_with_the_reason(
    tmp_path: Path,
    redis: Redis,
    sessions: Sessions,
    transcriber: Transcriber,
    speech_dir: Path,
    kind: str,
) -> None:
    files = make_call(tmp_path / "rec", "bad", speech_dir)
    await index(sessions, redis, "bad", tmp_path / "rec")
    caller = files["caller"]
    blob = caller.read_bytes()
    if kind == "truncated":
        caller.write_bytes(blob[: len(blob) // 2])
    elif kind == "not audio":
        caller.write_bytes(b"<html>502 Bad Gateway</html>" * 100)
    elif kind == "empty":
        caller.write_bytes(b"")
    else:
        caller.unlink()
    worker = AsrWorker(redis, sessions, transcriber, WorkerSettings(threads=1))
    await run_worker(worker, lambda: _settled(sessions, 2, redis))
    async with sessions() as s:
        by = {o.recording_id: o for o in (await s.scalars(select(AsrJob))).all()}
        recs = {r.speaker: r.id for r in (await s.scalars(select(Recording))).all()}
        texts = (await s.scalars(select(Transcript.speaker))).all()
    failed = by[recs["caller"]]
    assert failed.status == "failed" and failed.deliveries == 1
    reason = {
        "truncated": "truncated WAV",
        "not audio": "not a WAV file",
        "empty": "empty file",
        "deleted": "cannot read",
    }[kind]
    assert reason in failed.error and str(caller) in failed.error
    assert by[recs["seat"]].status == "done" and list(texts) == ["seat"]
    assert await pending(redis) == 0  # acknowledged: not retried for ever


async def _settled(sessions: Sessions, n: int, redis: Redis) -> bool:
    """n outcomes recorded and every job acknowledged (the ack follows the outcome)."""
    return await count(sessions, AsrJob) >= n and await pending(redis) == 0


@BACKENDS
async def test_a_job_done_twice_leaves_one_transcript(
    tmp_path: Path, redis: Redis, sessions: Sessions, transcriber: Transcriber, speech_dir: Path
) -> None:
    make_call(tmp_path / "rec", "dup", speech_dir)
    await index(sessions, redis, "dup", tmp_path / "rec")
    for _, fields in await redis.xrange(keys.ASR_STREAM):
        await enqueue(redis, Job.parse(fields))  # the same jobs again, e.g. a re-index by hand
    w1 = AsrWorker(redis, sessions, transcriber, WorkerSettings(threads=1), name="w1")
    w2 = AsrWorker(redis, sessions, transcriber, WorkerSettings(threads=1), name="w2")

    async def all_acked() -> bool:
        return w1.finished + w2.finished == 4 and await pending(redis) == 0

    tasks = [asyncio.create_task(w.run()) for w in (w1, w2)]
    try:
        await until(all_acked)
    finally:
        for w, t in zip((w1, w2), tasks, strict=True):
            w.stop()
            t.cancel()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 20)
    assert await count(sessions, Transcript) == 2
    async with sessions() as s:
        per = (
            await s.execute(
                select(TranscriptSegment.transcript_id, func.count()).group_by(
                    TranscriptSegment.transcript_id
                )
            )
        ).all()
    # One transcript per recording and one set of segments per transcript, in time order.
    assert len(per) == 2 and all(n > 0 for _, n in per)
    async with sessions() as s:
        starts = (
            await s.execute(
                select(TranscriptSegment.transcript_id, TranscriptSegment.start_s).order_by(
                    TranscriptSegment.transcript_id, TranscriptSegment.id
                )
            )
        ).all()
    for tid in {t for t, _ in starts}:
        mine = [st for t, st in starts if t == tid]
        assert mine == sorted(set(mine))


@BACKENDS
async def test_a_worker_does_not_take_over_its_own_running_job(
    tmp_path: Path,
    redis: Redis,
    sessions: Sessions,
    transcriber: Transcriber,
    speech_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Its heartbeat is later than claim_idle_ms, so XAUTOCLAIM hands the worker the job it is
    decoding: it must not decode it a second time (nor count a second delivery)."""
    make_call(tmp_path / "rec", "own", speech_dir)
    await index(sessions, redis, "own", tmp_path / "rec")
    worker = AsrWorker(
        redis,
        sessions,
        transcriber,
        WorkerSettings(threads=1, claim_idle_ms=10, claim_every_s=0.0, heartbeat_s=60.0),
    )
    with caplog.at_level("INFO", logger="asr.worker"):
        await run_worker(worker, lambda: _settled(sessions, 2, redis))
    assert "claimed" not in caplog.text  # nothing was stale: each job was read once
    async with sessions() as s:
        outcomes = (await s.scalars(select(AsrJob))).all()
    assert [(o.status, o.deliveries) for o in outcomes] == [("done", 1), ("done", 1)]
    assert worker.finished == 2 and await count(sessions, Transcript) == 2


@BACKENDS
async def test_a_job_redelivered_after_its_transcript_builds_the_missing_draft(
    tmp_path: Path,
    redis: Redis,
    sessions: Sessions,
    transcriber: Transcriber,
    speech_dir: Path,
    drafts_builder: DraftBuilder,
) -> None:
    """A worker killed after storing the transcripts and before building the draft leaves
    its jobs pending; the worker that claims them finds the transcripts there: it builds the
    draft (once), or the call would have none for good."""
    make_call(tmp_path / "rec", "d1", speech_dir)
    async with sessions.begin() as s:
        s.add(CallRecord(call_id="d1", city="xa", caller_num="13800000002", entered_at=ARRIVED))
    await index(sessions, redis, "d1", tmp_path / "rec")
    await ensure_group(redis)
    # The dead worker: it read both jobs and stored both transcripts; no draft, no ack.
    dead = AsrWorker(redis, sessions, transcriber, WorkerSettings(threads=1), name="dead")
    got: Any = await redis.xreadgroup(keys.ASR_GROUP, "dead", {keys.ASR_STREAM: ">"}, count=10)
    entries: list[tuple[str, dict[str, str]]] = [e for _, es in got for e in es]
    assert len(entries) == 2
    for entry_id, fields in entries:
        assert await dead.handle(entry_id, fields, 1)
    assert await count(sessions, Transcript) == 2 and await count(sessions, CallDraft) == 0
    assert await pending(redis) == 2

    survivor = AsrWorker(
        redis,
        sessions,
        transcriber,
        WorkerSettings(threads=1, claim_idle_ms=200, claim_every_s=0.0),
        drafts=CallDrafts(sessions, drafts_builder, history=caller_history),
        name="survivor",
    )
    await run_worker(survivor, lambda: _settled(sessions, 2, redis))
    async with sessions() as s:
        drafts = (await s.scalars(select(CallDraft))).all()
    assert [(d.call_id, d.source) for d in drafts] == [("d1", "asr")]
    assert drafts[0].draft["category"]
    assert await count(sessions, Transcript) == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("redis_url", "database_url"), [(REDIS_BACKENDS[-1], DB_BACKENDS[-1])], indirect=True
)
async def test_worker_killed_during_a_job(
    tmp_path: Path,
    redis: Redis,
    redis_url: str,
    database_url: str,
    sessions: Sessions,
    transcriber: Transcriber,
    asr_model_dir: Path,
    speech_dir: Path,
) -> None:
    """A worker process is killed (SIGKILL) while it decodes; another claims the job with
    XAUTOCLAIM and finishes it; the transcript exists exactly once."""
    await _long_call(sessions, redis, tmp_path / "rec", speech_dir)
    proc = await _worker_process(tmp_path, redis_url, database_url, asr_model_dir)
    try:
        await until(lambda: _held(redis), timeout=60)  # it read the job: decoding now
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert await count(sessions, Transcript) == 0, "killed too late: the job was already done"
    assert await pending(redis) == 1

    survivor = AsrWorker(
        redis,
        sessions,
        transcriber,
        WorkerSettings(threads=1, claim_idle_ms=300, claim_every_s=0.1),
    )
    await run_worker(survivor, lambda: _settled(sessions, 1, redis))
    assert await count(sessions, Transcript) == 1
    async with sessions() as s:
        outcome = await s.scalar(select(AsrJob))
    assert outcome is not None and outcome.status == "done" and outcome.deliveries == 2
    assert await pending(redis) == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("redis_url", "database_url"), [(REDIS_BACKENDS[-1], DB_BACKENDS[-1])], indirect=True
)
async def test_sigterm_lets_the_job_in_hand_finish(
    tmp_path: Path,
    redis: Redis,
    redis_url: str,
    database_url: str,
    sessions: Sessions,
    transcriber: Transcriber,
    asr_model_dir: Path,
    speech_dir: Path,
) -> None:
    """`hotline asr-worker` told to stop (SIGTERM, as systemd or a container stop does) while
    it decodes: it finishes and acknowledges what it holds, exits 0, and leaves nothing
    pending, so the jobs that came later go to the next worker at once (no claim delay)."""
    await _long_call(sessions, redis, tmp_path / "rec", speech_dir)
    proc = await _worker_process(tmp_path, redis_url, database_url, asr_model_dir)
    try:
        await until(lambda: _held(redis), timeout=60)
        assert await count(sessions, Transcript) == 0, "too late: the job was already done"
        proc.send_signal(signal.SIGTERM)
        # Jobs arriving as it stops: one may still be read by the read in progress (it is
        # then done, not abandoned); none after the read.
        make_call(tmp_path / "rec", "k2", speech_dir)
        await index(sessions, redis, "k2", tmp_path / "rec")
        assert await asyncio.wait_for(proc.wait(), 90) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert await pending(redis) == 0  # nothing held by a worker that is gone
    async with sessions() as s:
        first = (await s.scalars(select(AsrJob))).all()
    assert [(o.call_id, o.status) for o in first][:1] == [("k1", "done")]
    assert len(first) < 3, "it went on taking jobs after SIGTERM"

    # Claims would wait claim_idle_ms; the next worker needs none: it reads the rest at once.
    nxt = AsrWorker(redis, sessions, transcriber, WorkerSettings(threads=1, claim_every_s=3600))
    await run_worker(nxt, lambda: _settled(sessions, 3, redis))
    async with sessions() as s:
        outcomes = (await s.scalars(select(AsrJob).order_by(AsrJob.id))).all()
    assert sorted((o.call_id, o.status, o.deliveries) for o in outcomes) == [
        ("k1", "done", 1),
        ("k2", "done", 1),
        ("k2", "done", 1),
    ]
    assert await count(sessions, Transcript) == 3


async def _long_call(sessions: Sessions, redis: Redis, root: Path, speech_dir: Path) -> None:
    """Call k1: a caller's side only, ~13 s of speech: a decode long enough to interrupt."""
    files = speaker_files(base_path(root, "k1", 1, ARRIVED))
    files["caller"].parent.mkdir(parents=True)
    noise = speech_dir / "noise-8k.wav"
    sox(str(noise), str(noise), str(noise), str(files["caller"]))
    await index(sessions, redis, "k1", root)


async def _worker_process(
    tmp_path: Path, redis_url: str, database_url: str, model: Path
) -> asyncio.subprocess.Process:
    env = dict(
        os.environ,
        HOTLINE_DATABASE_URL=database_url,
        HOTLINE_REDIS_URL=redis_url,
        HOTLINE_ASR_MODEL=str(model),
        HOTLINE_DATA_DIR=str(tmp_path / "data"),
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hotline",
        "asr-worker",
        "--threads",
        "1",
        "--claim-idle",
        "600",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _held(redis: Redis) -> bool:
    try:
        return await pending(redis) == 1
    except Exception:  # the group does not exist until the worker has started
        return False


@BACKENDS
async def test_a_job_that_keeps_killing_workers_is_failed(
    tmp_path: Path, redis: Redis, sessions: Sessions, transcriber: Transcriber, speech_dir: Path
) -> None:
    """Delivered more than max_deliveries times (its workers died): failed, not retried."""
    make_call(tmp_path / "rec", "p1", speech_dir)
    await index(sessions, redis, "p1", tmp_path / "rec")
    from asr.jobs import ensure_group

    await ensure_group(redis)
    for _ in range(3):  # three workers read the jobs and died without acknowledging
        await redis.xreadgroup(keys.ASR_GROUP, "dead", {keys.ASR_STREAM: "0"}, count=10)
        await redis.xreadgroup(keys.ASR_GROUP, "dead", {keys.ASR_STREAM: ">"}, count=10)
        await asyncio.sleep(0.05)
        await redis.xautoclaim(keys.ASR_STREAM, keys.ASR_GROUP, "dead", 0, "0-0", count=10)
    worker = AsrWorker(
        redis,
        sessions,
        transcriber,
        WorkerSettings(threads=1, claim_idle_ms=10, claim_every_s=0.0, max_deliveries=3),
    )
    await run_worker(worker, lambda: _settled(sessions, 2, redis))
    async with sessions() as s:
        outcomes = (await s.scalars(select(AsrJob))).all()
    assert [o.status for o in outcomes] == ["failed", "failed"]
    assert all("gave up after" in o.error for o in outcomes)
    assert await count(sessions, Transcript) == 0 and await pending(redis) == 0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@BACKENDS
async def test_recordings_indexed_while_redis_was_down_are_swept_onto_the_stream(
    tmp_path: Path, redis: Redis, sessions: Sessions, transcriber: Transcriber, speech_dir: Path
) -> None:
    """The index is committed before the jobs are queued; a controller that loses Redis (or
    dies) in between leaves rows without jobs, and the workers' sweep queues them."""
    make_call(tmp_path / "rec", "lost", speech_dir)
    down = Redis(host="127.0.0.1", port=_closed_port(), decode_responses=True)
    with pytest.raises(RedisConnectionError):
        await index(sessions, down, "lost", tmp_path / "rec")
    await down.aclose()
    async with sessions() as s:
        recs = {r.speaker: r for r in (await s.scalars(select(Recording))).all()}
    assert sorted(recs) == ["caller", "mixed", "seat"]
    assert all(r.asr_queued_at is None for r in recs.values())
    assert await redis.exists(keys.ASR_STREAM) == 0
    # Within the grace period a row may be about to be queued by its indexer: left alone.
    assert await unqueued(sessions, older_than_s=60) == []
    found = await unqueued(sessions, older_than_s=0)
    assert sorted(r.speaker for r in found) == ["caller", "seat"]  # not the mixed file

    worker = AsrWorker(
        redis,
        sessions,
        transcriber,
        WorkerSettings(threads=2, sweep_every_s=0.2, sweep_grace_s=0),
    )
    await run_worker(worker, lambda: _settled(sessions, 2, redis))

    async with sessions() as s:
        texts = sorted((await s.scalars(select(Transcript.speaker))).all())
        queued = {r.speaker: r.asr_queued_at for r in (await s.scalars(select(Recording))).all()}
    assert texts == ["caller", "seat"]
    assert queued["caller"] is not None and queued["seat"] is not None
    assert queued["mixed"] is None
    assert sorted(j.speaker for j in await jobs_on_stream(redis)) == ["caller", "seat"]
    # Once queued, a row is not swept again; and within a period only one sweep runs.
    await redis.delete(keys.ASR_SWEEP_LOCK)
    assert await sweep(sessions, redis, older_than_s=0, every_s=60) == 0
    assert await sweep(sessions, redis, older_than_s=0, every_s=60) is None  # not its turn


async def jobs_on_stream(redis: Redis) -> list[Job]:
    return [Job.parse(f) for _, f in await redis.xrange(keys.ASR_STREAM)]
