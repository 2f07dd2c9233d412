"""Child processes of a test (SIPp, baresip): own process group, always reaped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path


class Child:
    def __init__(self, name: str, log: Path) -> None:
        self.name, self.log = name, log
        self.proc: asyncio.subprocess.Process | None = None

    async def spawn(self, argv: list[str], cwd: Path) -> None:
        with self.log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # killpg reaches `ip netns exec` and what it runs
            )

    async def wait(self, timeout: float) -> int:
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"{self.name} still running after {timeout} s: {self.output()[-2000:]}"
            ) from None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                await self.proc.wait()
        self.proc = None
