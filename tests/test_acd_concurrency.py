"""Two real OS processes route against one Redis: no seat double-booked, no caller lost."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from redis.asyncio import Redis

from acd.queue import overflow
from acd.queue.service import Acd
from acd.queue.types import SeatSpec, Skill

ROOT = Path(__file__).resolve().parents[1]
PER_PROCESS = 1500


async def test_two_processes_thousands_of_decisions(redis: Redis, redis_url: str) -> None:
    acd = Acd(redis)
    for city in ("xa", "xy"):
        await overflow.configure(
            redis, city, ("xy" if city == "xa" else "xa",), overflow.OverflowRule(wait_s=0)
        )
    # Few seats for many decisions: the two processes fight over every one of them.
    for n, city in enumerate(["xa", "xa", "xy"]):
        seat_id = f"{n + 1}001"
        await acd.login(SeatSpec(seat_id, city, {Skill.general: 1}, f"PJSIP/{seat_id}"))
        await acd.ready(seat_id)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.acd_worker",
            redis_url,
            city,
            str(PER_PROCESS),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        for city in ("xa", "xy")
    ]
    outputs = [json.loads((await p.communicate())[0]) for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outputs[0]["violations"] == [] and outputs[1]["violations"] == []
    decisions = outputs[0]["decisions"] + outputs[1]["decisions"]
    assert len(decisions) >= PER_PROCESS  # thousands of real decisions, not a quiet run
    seqs = [d[0] for d in decisions]
    assert len(set(seqs)) == len(seqs)  # every decision is its own script run
    routed = {d[2] for d in decisions}
    assert len(routed) == len(decisions)  # no caller routed twice
    waiting = {
        w.call_id for city in ("xa", "xy") for w in await acd.waiting(city, Skill.general, 10_000)
    }
    everyone = {f"{c}-{i}" for c in ("xa", "xy") for i in range(PER_PROCESS)}
    assert routed | waiting == everyone and not routed & waiting  # nobody lost
