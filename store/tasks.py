"""The one check every long-running loop makes before it logs an error and goes on."""

from __future__ import annotations

import asyncio


def cancelling() -> bool:
    """Whether the running task is being cancelled."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def reraise_if_cancelled() -> None:
    """Some drivers turn a cancellation into their own error; a loop that logs errors and
    goes on must still stop when its task is being cancelled."""
    if cancelling():
        raise asyncio.CancelledError
