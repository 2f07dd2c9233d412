"""The controller SIGKILLed 10 times at random moments; its supervisor restarts it."""

from __future__ import annotations

import asyncio
import random

from chaos.row import Result, run_row
from chaos.stack import Stack
from chaos.tally import Tally
from chaos.world import Plan, World

NAME = "controller_kill"
KILLS = 10


async def run(stack: Stack, plan: Plan) -> Result:
    rng = random.Random(f"{plan.seed}:{NAME}")
    # Spread out: each kill lands on a controller that has come back from the last one.
    moments = [(k + rng.uniform(0.2, 0.8)) / (KILLS + 1) for k in range(KILLS)]

    async def kill(world: World) -> None:
        assert world.controller is not None
        for moment in moments:
            await asyncio.sleep(world.at(moment))
            world.controller.kill()

    async def figure(world: World, counted: Tally) -> tuple[int, str]:
        assert world.controller is not None
        rung_twice = world.ledger.originated_twice()
        return (
            0,
            f"kills={KILLS} starts={world.controller.starts} callbacks_rung_twice={rung_twice}",
        )

    return await run_row(stack, plan, NAME, kill, figure)
