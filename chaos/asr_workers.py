"""The ASR workers under test: `hotline asr-worker` processes on the run's Redis stream and
database, each supervised as the controller is (started again a second after it ends)."""

from __future__ import annotations

import sys
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from chaos.controller import Controller
from store import keys

DRAIN_S = 5  # a stopped worker's jobs in hand: the row has counted by then


class AsrWorker(Controller):
    """One worker process; the controller's supervisor with another command line."""

    def __init__(self, env: dict[str, str], log: Path, threads: int) -> None:
        super().__init__([], env, log)
        self.args = [sys.executable, "-m", "hotline", "asr-worker"]
        self.args += ["--threads", str(threads), "--drain", str(DRAIN_S)]

    @property
    def pid(self) -> int | None:
        if self.proc is None or self.proc.returncode is not None:
            return None
        return self.proc.pid

    async def kill_now(self) -> int | None:
        """SIGKILL, and wait until the process is gone (its pid no longer counts as this
        worker: a stream consumer of a dead pid holds its jobs until they are claimed).
        Returns the pid killed."""
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return None
        self.kill()
        await proc.wait()
        return proc.pid


def of_pid(consumers: list[dict[str, object]], pid: int) -> dict[str, object] | None:
    """The stream consumer of the worker process ``pid`` (asr.worker.consumer_name puts the
    pid between the host name and a random tail), or None before its first read."""
    tag = f"-{pid}-"
    return next((c for c in consumers if tag in str(c["name"])), None)


async def consumers(redis: Redis) -> list[dict[str, object]]:
    """The group's consumers (name, pending, idle); none before a worker made the group."""
    try:
        found: list[dict[str, object]] = await redis.xinfo_consumers(
            keys.ASR_STREAM, keys.ASR_GROUP
        )
    except ResponseError:  # no stream or no group yet
        return []
    return found


async def holding(redis: Redis, worker: AsrWorker) -> str | None:
    """The worker process's consumer name if it holds a job now (read, not yet
    acknowledged: mid-job), else None."""
    pid = worker.pid
    if pid is None:
        return None
    mine = of_pid(await consumers(redis), pid)
    if mine is None or int(str(mine["pending"])) == 0:
        return None
    return str(mine["name"])


async def reading(redis: Redis, worker: AsrWorker, not_pid: int | None = None) -> bool:
    """The worker process (another than ``not_pid``) has loaded its model and reads."""
    pid = worker.pid
    if pid is None or pid == not_pid:
        return False
    return of_pid(await consumers(redis), pid) is not None
