"""`make chaos` kept from rotting: the peak row at a tiny scale, end to end (its own Redis and
PostgreSQL, two simulated cities, the controller as a `hotline serve` process)."""

from __future__ import annotations

import asyncio
import re

import pytest

from chaos import peak
from chaos.stack import Stack
from chaos.world import Plan

pytestmark = pytest.mark.xdist_group("chaos")  # two controllers' worth of CPU at once is plenty


async def test_peak_row_counts_a_small_run() -> None:
    stack = await asyncio.to_thread(Stack.start)
    try:
        plan = Plan(
            traffic_s=8.0, cities=2, calls_per_h=2400.0, seats=3, patience_s=60.0, settle_s=40.0
        )
        result = await peak.run(stack, plan)
    finally:
        await asyncio.to_thread(stack.stop)
    line = result.line()
    assert re.match(r"CHAOS peak lost=\d+ duplicated=\d+ sl15=", line), line
    calls = int(re.search(r" calls=(\d+)", line).group(1))  # type: ignore[union-attr]
    assert calls > 0, line
    answered = float(re.search(r"answered=([\d.]+)%", line).group(1))  # type: ignore[union-attr]
    assert answered > 50.0, line
    assert (result.lost, result.duplicated) == (0, 0), line
