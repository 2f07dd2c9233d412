"""The AMI link cut 20 times at random moments (a random city's PBX drops its clients)."""

from __future__ import annotations

import asyncio
import random

from chaos.row import Result, run_row
from chaos.stack import Stack
from chaos.tally import Tally
from chaos.world import Plan, World

NAME = "ami_cut"
CUTS = 20


async def run(stack: Stack, plan: Plan) -> Result:
    rng = random.Random(f"{plan.seed}:{NAME}")
    moments = sorted(rng.uniform(0.05, 0.9) for _ in range(CUTS))
    done: list[str] = []

    async def cut(world: World) -> None:
        for moment in moments:
            await asyncio.sleep(world.at(moment))
            city = rng.choice(list(world.servers))
            for session in list(world.servers[city].sessions):
                session.close()  # the TCP connection drops; the PBX and its calls go on
            done.append(city)

    async def figure(world: World, counted: Tally) -> tuple[int, str]:
        return 0, f"cuts={len(done)}"

    return await run_row(stack, plan, NAME, cut, figure)
