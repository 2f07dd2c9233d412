"""The one check every long-running loop makes before it logs an error and goes on."""

from __future__ import annotations

import asyncio
import sys
from typing import TypeVar

from store.lease import LeaseLost

T = TypeVar("T")


def cancelling() -> bool:
    """Whether the running task is being cancelled."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def reraise_if_cancelled() -> None:
    """Some drivers turn a cancellation into their own error; a loop that logs errors and
    goes on must still stop when its task is being cancelled. A lost controller lease
    (``LeaseLost``, a fenced write refused) stops it too: every write it would try next is
    refused the same way, and the controller must go back to standby (hotline.standby)."""
    if cancelling():
        raise asyncio.CancelledError
    if isinstance(sys.exc_info()[1], LeaseLost):
        raise  # the error the calling except block handles


async def get_within(queue: asyncio.Queue[T], timeout: float) -> T | None:  # noqa: ASYNC109
    """The next item, waiting at most ``timeout`` seconds; None when none came. An item already
    queued is returned at once: ``asyncio.wait_for(queue.get(), 0)`` gives up before the get
    has even run (Python 3.11), so a loop due for its tick would skip an event waiting for it
    (a callback runner that dialled before it handled the resync rang a citizen twice)."""
    try:
        return queue.get_nowait()
    except asyncio.QueueEmpty:
        pass
    try:
        return await asyncio.wait_for(queue.get(), timeout)
    except TimeoutError:
        return None
