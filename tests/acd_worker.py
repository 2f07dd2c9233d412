"""One routing process for the concurrency test: run as `python -m tests.acd_worker URL CITY N`.

It enqueues N callers in its city, routes them against seats shared with the other process
(overflow on, no threshold), and checks each reservation is its own until it lets it go.
Prints one JSON line: its decisions and any violation seen.
"""

from __future__ import annotations

import asyncio
import json
import sys

from redis.asyncio import Redis

from acd.queue.service import Acd
from acd.queue.types import Skill
from store import keys


async def main(url: str, city: str, n: int) -> None:
    redis = Redis.from_url(url, decode_responses=True)
    acd = Acd(redis, cities=("xa", "xy"), trunks={"xa": "trunk-xa", "xy": "trunk-xy"})
    decisions: list[list[object]] = []
    violations: list[str] = []
    for i in range(n):
        call_id = f"{city}-{i}"
        await acd.enqueue(call_id, city, Skill.general)
        decision = await acd.route(city, Skill.general)
        if decision is None:
            continue
        owner = await redis.hget(keys.acd_seat(decision.seat_id), "call")
        if owner != decision.call_id:
            violations.append(f"{decision.seat_id} reserved for {decision.call_id} holds {owner}")
        decisions.append([decision.seq, decision.seat_id, decision.call_id])
        seat = await acd.answered(decision.call_id)
        if seat != decision.seat_id:
            violations.append(f"{decision.call_id} answered on {seat}, not {decision.seat_id}")
        await acd.ended(decision.call_id, wrapup_s=0)
        await acd.finish_wrapups()
    await redis.aclose()
    print(json.dumps({"decisions": decisions, "violations": violations}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
