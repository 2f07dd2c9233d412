"""The controller under test: `hotline serve --controller ...` as a child process, supervised.

As a service manager would, the supervisor starts it again a moment after it ends, for
whatever reason (a SIGKILL of a chaos row, a loop that failed when Redis went away). Its CPU
time is read from /proc and summed over every process it has been, so the share covers
restarts too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

RESTART_AFTER_S = 1.0  # what a supervisor (systemd RestartSec=1) waits
TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


class Controller:
    def __init__(self, cities: list[str], env: dict[str, str], log: Path) -> None:
        self.args = [sys.executable, "-m", "hotline", "serve"]
        for city in cities:
            self.args += ["--controller", city]
        self.env = env
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self._cpu_done = 0.0  # of processes that have ended
        self._cpu_seen = 0.0  # of the current one, last read
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def _supervise(self) -> None:
        with self.log.open("ab") as out:
            while not self._stopping:
                self.proc = await asyncio.create_subprocess_exec(
                    *self.args, env=self.env, stdout=out, stderr=out
                )
                self.starts += 1
                self._cpu_seen = 0.0
                await self.proc.wait()
                self._cpu_done += self._cpu_seen
                if not self._stopping:
                    await asyncio.sleep(RESTART_AFTER_S)

    def cpu_s(self) -> float:
        """CPU seconds of every controller process so far."""
        if self.proc is not None and self.proc.returncode is None:
            self._cpu_seen = max(self._cpu_seen, _cpu_s(self.proc.pid))
        return self._cpu_done + self._cpu_seen

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind (the CPU time is read just before)."""
        if self.proc is not None and self.proc.returncode is None:
            self.cpu_s()
            self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        self._stopping = True
        await self._end()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # A process the supervisor was starting as it was cancelled must not live on (it
        # would log in to the next row's PBX on a reused port).
        await self._end()

    async def _end(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.cpu_s()
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
