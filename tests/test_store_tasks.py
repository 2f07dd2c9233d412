"""The loops' shared waiting helper: an event already queued is never skipped for a tick."""

from __future__ import annotations

import asyncio

from store.tasks import get_within


async def test_a_queued_item_is_taken_even_with_no_time_left() -> None:
    queue: asyncio.Queue[str] = asyncio.Queue()
    queue.put_nowait("resync")
    # What the callback runner asks when its tick is due: no time to wait.
    assert await get_within(queue, 0.0) == "resync"
    assert await get_within(queue, 0.0) is None


async def test_an_item_that_comes_while_waiting_is_returned() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    asyncio.get_running_loop().call_later(0.01, queue.put_nowait, 7)
    assert await get_within(queue, 1.0) == 7
