"""`hotline asr-worker`: read ASR jobs from the stream, transcribe in threads, store, draft.

One process holds one model and ``threads`` recognizers; ``threads`` jobs decode at once (one
more is held, ready, so the threads never wait on I/O).
Each turn first claims entries that another consumer has held idle for ``claim_idle_ms``
(that worker died), then reads new ones. While a job runs, a heartbeat re-claims it for this
consumer (XCLAIM JUSTID resets the idle time), so a long recording is not taken over by a
healthy peer. Every ``sweep_every_s``, one worker of all (a Redis lock) queues the
recordings that were indexed but whose jobs never reached the stream (asr.queueing). Outcomes:

- transcript stored, or already stored by another worker: acknowledged, recorded ``done``;
  a job whose transcript is there builds the call's draft if it is missing (a redelivery:
  its first worker died before building it);
- audio that cannot be read (corrupt, truncated, empty, file gone): acknowledged, recorded
  ``failed`` with the reason, not retried;
- anything else (database down, ...): left pending, so it is claimed again later; after
  ``max_deliveries`` deliveries it is recorded ``failed`` and acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from asr.calldraft import CallDrafts
from asr.engine import Transcriber
from asr.jobs import Job, JobError, ensure_group
from asr.queueing import sweep
from asr.store import record_outcome, recording_to_do, store_transcript
from recording.audio import AudioError
from store import keys
from store.tasks import reraise_if_cancelled

log = logging.getLogger(__name__)
Entry = tuple[str, dict[str, str] | None]


@dataclass(frozen=True)
class WorkerSettings:
    threads: int = 2
    claim_idle_ms: int = 120_000
    max_deliveries: int = 3
    block_ms: int = 2_000
    claim_every_s: float = 5.0
    # How often a running job is re-claimed for this worker; default a third of claim_idle_ms.
    heartbeat_s: float | None = None
    # How often (across all workers) to look for indexed recordings whose job never reached
    # the stream, and how old such a row must be (the indexer queues it within milliseconds).
    sweep_every_s: float = 60.0
    sweep_grace_s: float = 30.0
    # After stop(), how long the jobs in hand may run on before they are abandoned.
    drain_s: float = 60.0


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class AsrWorker:
    def __init__(
        self,
        redis: Redis,
        sessions: async_sessionmaker[AsyncSession],
        transcriber: Transcriber,
        settings: WorkerSettings | None = None,
        drafts: CallDrafts | None = None,
        name: str | None = None,
    ) -> None:
        self.redis = redis
        self.sessions = sessions
        self.transcriber = transcriber
        self.settings = settings or WorkerSettings()
        self.drafts = drafts
        self.name = name or consumer_name()
        self._pool = ThreadPoolExecutor(self.settings.threads, thread_name_prefix="asr")
        self._last_claim = 0.0
        self._last_sweep = 0.0
        self._inflight: set[str] = set()  # entry ids this worker is doing now
        self.finished = 0  # jobs acknowledged by this worker (for the CLI and benchmarks)
        self._stopping = False

    # --- the loop ------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to end: no new jobs; the ones in hand finish (up to ``drain_s``), then
        ``run`` returns. Call it before cancelling ``run``, too: a cancellation that arrives
        during a blocking XREADGROUP can be swallowed on its way out of redis-py (seen here
        as a worker that ran on after ``cancel()``, logging nothing: the read came back as if
        its block had ended), so the loop also ends on this flag, at the latest one block on."""
        self._stopping = True

    async def run(self) -> None:
        await ensure_group(self.redis)
        # One job more than threads: the next job is read, loaded and its predecessor stored
        # while the recognizers decode, so a thread never waits on Redis or the database.
        slots = asyncio.Semaphore(self.settings.threads + 1)
        tasks: set[asyncio.Task[None]] = set()
        log.info(
            "asr worker %s: %d thread(s), model %s",
            self.name,
            self.settings.threads,
            self.transcriber.name,
        )
        try:
            while not self._stopping:
                reraise_if_cancelled()
                await slots.acquire()
                if self._stopping:  # asked while every slot was busy: take nothing new
                    slots.release()
                    break
                try:
                    entry = await self._next()
                except Exception:
                    slots.release()
                    reraise_if_cancelled()
                    log.exception("asr worker %s: reading the stream failed", self.name)
                    await asyncio.sleep(1.0)
                    continue
                if entry is None:
                    slots.release()
                    continue
                task = asyncio.get_running_loop().create_task(self._run_one(entry, slots))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:  # asked to stop: let the jobs in hand finish (a SIGTERM is not a crash)
                log.info("asr worker %s: stopping, %d job(s) to finish", self.name, len(tasks))
                await asyncio.wait(set(tasks), timeout=self.settings.drain_s)
        finally:
            # Cancelled, or still running after drain_s: left pending, claimed again later.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def _next(self) -> tuple[Entry, int] | None:
        now = time.monotonic()
        if now - self._last_sweep >= self.settings.sweep_every_s:
            self._last_sweep = now
            await self._sweep()
        if now - self._last_claim >= self.settings.claim_every_s:
            claimed = await self._claim_stale()
            if claimed is not None:
                return claimed  # there may be more: claim again next turn
            self._last_claim = now
        got: Any = await self.redis.xreadgroup(
            keys.ASR_GROUP,
            self.name,
            {keys.ASR_STREAM: ">"},
            count=1,
            block=self.settings.block_ms,
        )
        for _stream, entries in got or ():
            for entry in entries:
                return entry, 1
        return None

    async def _sweep(self) -> None:
        try:
            await sweep(
                self.sessions,
                self.redis,
                older_than_s=self.settings.sweep_grace_s,
                every_s=self.settings.sweep_every_s,
            )
        except Exception:  # the sweep is a safety net: reading the stream goes on without it
            reraise_if_cancelled()
            log.exception("asr worker %s: the sweep for unqueued recordings failed", self.name)

    async def _claim_stale(self) -> tuple[Entry, int] | None:
        start = "0-0"
        while True:
            reply: Any = await self.redis.xautoclaim(
                keys.ASR_STREAM,
                keys.ASR_GROUP,
                self.name,
                min_idle_time=self.settings.claim_idle_ms,
                start_id=start,
                count=1,
            )
            entries = reply[1] if reply else []
            if not entries:
                return None
            entry_id, fields = entries[0]
            if entry_id not in self._inflight:
                break
            # Ours already (its heartbeat was later than claim_idle_ms): the claim only reset
            # its idle time. Running it twice would waste a thread; look further on.
            start = str(reply[0])
            if start == "0-0":
                return None
        pending = await self.redis.xpending_range(
            keys.ASR_STREAM, keys.ASR_GROUP, min=entry_id, max=entry_id, count=1
        )
        deliveries = int(pending[0]["times_delivered"]) if pending else 1
        log.info("asr worker %s: claimed %s (delivery %d)", self.name, entry_id, deliveries)
        return (entry_id, fields), deliveries

    async def _run_one(self, item: tuple[Entry, int], slots: asyncio.Semaphore) -> None:
        (entry_id, fields), deliveries = item
        self._inflight.add(entry_id)
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat(entry_id))
        try:
            if await self.handle(entry_id, fields, deliveries):
                await self.redis.xack(keys.ASR_STREAM, keys.ASR_GROUP, entry_id)
                self.finished += 1
        except Exception:
            reraise_if_cancelled()
            # Left pending: XAUTOCLAIM gives it to a worker (maybe this one) later.
            log.exception("asr worker %s: job %s failed, will be retried", self.name, entry_id)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self._inflight.discard(entry_id)
            slots.release()

    async def _heartbeat(self, entry_id: str) -> None:
        # Three beats per idle period, so a healthy job never looks abandoned to a peer.
        every = self.settings.heartbeat_s or max(self.settings.claim_idle_ms / 3000, 0.002)
        while True:
            await asyncio.sleep(every)
            try:
                await self.redis.xclaim(
                    keys.ASR_STREAM, keys.ASR_GROUP, self.name, 0, [entry_id], justid=True
                )
            except Exception as exc:  # a missed beat only risks a duplicate, which is harmless
                log.warning("asr worker %s: heartbeat for %s: %s", self.name, entry_id, exc)

    # --- one job -----------------------------------------------------------------------
    async def handle(self, entry_id: str, fields: dict[str, str] | None, deliveries: int) -> bool:
        """Do the job; True when it is settled (acknowledge it)."""
        if fields is None:
            log.warning("asr worker %s: entry %s was trimmed from the stream", self.name, entry_id)
            return True
        try:
            job = Job.parse(fields)
        except JobError as exc:
            log.error("asr worker %s: entry %s dropped: %s", self.name, entry_id, exc)
            return True
        where = f"{job.city} {job.call_id} {job.speaker}"
        recording, transcribed = await recording_to_do(self.sessions, job.recording_id)
        if transcribed:
            log.info("asr %s: recording %d already transcribed", where, job.recording_id)
            # Its first worker may have died between the transcript and the draft.
            await self._draft(job, missing_only=True)
            return True
        if deliveries > self.settings.max_deliveries:
            await self._failed(job, f"gave up after {deliveries - 1} deliveries", deliveries)
            return True
        if recording is None:
            log.error("asr %s: recording %d is not indexed; job dropped", where, job.recording_id)
            return True
        if recording.deleted_at is not None:
            await self._failed(
                job, "the recording was pruned before it was transcribed", deliveries
            )
            return True
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                self._pool, self.transcriber.transcribe_file, Path(recording.path)
            )
        except AudioError as exc:
            await self._failed(job, str(exc), deliveries)
            return True
        stored = await store_transcript(
            self.sessions,
            recording,
            result,
            self.transcriber.name,
            deliveries=deliveries,
            worker=self.name,
        )
        log.info(
            "asr %s: %.1f s transcribed%s",
            where,
            result.duration_s,
            "" if stored else " (another worker had already stored it)",
        )
        if stored:
            await self._draft(job)
        return True

    async def _draft(self, job: Job, *, missing_only: bool = False) -> None:
        if self.drafts is None:
            return
        try:
            if missing_only:
                await self.drafts.ensure(job.call_id, job.city)
            else:
                await self.drafts.after_transcript(job.call_id, job.city)
        except Exception:  # the transcript is kept; the seat can still write the ticket
            reraise_if_cancelled()
            log.exception("asr %s %s: building the draft failed", job.city, job.call_id)

    async def _failed(self, job: Job, reason: str, deliveries: int) -> None:
        log.error("asr %s %s %s: failed: %s", job.city, job.call_id, job.speaker, reason)
        await record_outcome(
            self.sessions,
            job.recording_id,
            job.call_id,
            "failed",
            deliveries=deliveries,
            error=reason,
            worker=self.name,
        )
        # The other side may be done: the draft is built from what could be transcribed.
        await self._draft(job)
