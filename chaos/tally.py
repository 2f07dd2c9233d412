"""Counting a row: the ledger (what callers lived) against the product's records.

- ``stuck``: a caller still on a PBX when the row settled, not in the fallback;
- ``fallback``: a caller the controller left to the dialplan's fallback (nobody routed it for
  FALLBACK_AFTER seconds);
- ``unseen``: a caller who came and went while no controller ran: no call record at all (the
  product cannot know of it but from the PBX's own CDR);
- ``unended``: a caller who left whose call record has no end;
- ``callbacks_lost``: a caller who gave up after waiting long enough to be called back
  (the controller's callback_after_s, plus a second for the two clocks) with no callback task
  for the number;
- ``duplicated``: AMI actions the PBX received twice (ledger).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from acd.callbacks.tables import CallbackTask
from acd.calls.tables import CallRecord
from acd.queue import latency
from chaos.ledger import CallTruth, Ledger

CALLBACK_AFTER_S = 10.0 + 1.0
RECORDS_WAIT_S = 30.0  # the controller writes ends a moment after the hang-up
EXAMPLES = 5  # call ids named per kind of loss, for a look into the logs


@dataclass
class Tally:
    calls: int
    routed: int
    answered: int
    within_15s: int
    stuck: int
    fallback: int
    unseen: int
    unended: int
    callbacks_lost: int
    duplicated: int
    examples: dict[str, list[str]] = field(default_factory=dict)  # kind -> a few call ids

    @property
    def lost(self) -> int:
        return self.stuck + self.fallback + self.unseen + self.unended + self.callbacks_lost

    def breakdown(self) -> str:
        return (
            f"calls={self.calls} stuck={self.stuck} fallback={self.fallback} "
            f"unseen={self.unseen} unended={self.unended} callbacks_lost={self.callbacks_lost}"
        )


def asyncpg_url(url: str) -> str:
    return "postgresql+asyncpg://" + url.removeprefix("postgresql://")


async def _records(db_url: str) -> tuple[dict[str, bool], set[str]]:
    """(call id -> has an end, numbers with a callback task)."""
    engine = create_async_engine(asyncpg_url(db_url))
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(CallRecord.call_id, CallRecord.ended_at))).all()
            numbers = set((await conn.scalars(select(CallbackTask.number))).all())
    finally:
        await engine.dispose()
    return {r[0]: r[1] is not None for r in rows}, numbers


def _unended(calls: list[CallTruth], ended: dict[str, bool]) -> int:
    return sum(1 for c in calls if c.outcome is not None and not ended.get(c.call_id, False))


async def tally(ledger: Ledger, db_url: str, skip: frozenset[str] = frozenset()) -> Tally:
    """``skip``: cities whose PBX a row took away (their callers are not the question)."""
    calls = [c for c in ledger.calls.values() if c.city not in skip]
    end = asyncio.get_running_loop().time() + RECORDS_WAIT_S
    while True:
        ended, numbers = await _records(db_url)
        if _unended(calls, ended) == 0 or asyncio.get_running_loop().time() > end:
            break
        await asyncio.sleep(1.0)
    routed = [c for c in calls if c.routed is not None]
    gave_up = [
        c
        for c in routed
        if c.outcome == "abandoned" and c.answered is None and c.waited_s() >= CALLBACK_AFTER_S
    ]
    lost = {
        "stuck": [c for c in calls if c.outcome is None and not c.fell_back],
        "fallback": [c for c in calls if c.fell_back],
        "unseen": [c for c in calls if c.outcome is not None and c.call_id not in ended],
        "unended": [c for c in calls if c.outcome is not None and ended.get(c.call_id) is False],
        "callbacks_lost": [c for c in gave_up if c.number not in numbers],
    }
    return Tally(
        calls=len(calls),
        routed=len(routed),
        answered=sum(1 for c in routed if c.answered is not None),
        within_15s=sum(1 for c in routed if c.answered is not None and c.waited_s() <= 15.0),
        stuck=len(lost["stuck"]),
        fallback=len(lost["fallback"]),
        unseen=len(lost["unseen"]),
        unended=len(lost["unended"]),
        callbacks_lost=len(lost["callbacks_lost"]),
        duplicated=ledger.redirects_twice + ledger.originated_twice(),
        examples={k: [c.call_id for c in v[:EXAMPLES]] for k, v in lost.items() if v},
    )


async def route_p99_ms(redis: Redis, cities: list[str]) -> float:
    """The 99th percentile of the controller's routing decisions (its own histogram in
    Redis), as the upper bound of the bucket it falls in; inf when beyond the last."""
    totals: dict[str, int] = {}
    count = 0
    for city in cities:
        hist = await latency.read(redis, city)
        count += hist.count
        for bound, cumulative in hist.buckets:
            totals[bound] = totals.get(bound, 0) + cumulative
    if count == 0:
        return math.nan
    for bound, cumulative in totals.items():
        if cumulative >= 0.99 * count:
            return math.inf if bound == latency.INF else float(bound) * 1000
    return math.inf
