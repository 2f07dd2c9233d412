"""The controller SIGKILLed 10 times at random moments while traffic flows (which goes on
until the tenth restart); its supervisor restarts it a second after each."""

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

    async def kill(world: World) -> None:
        """Each kill lands at a random moment once the controller is back up (every city's
        link logged in): ten kills and restarts, not a controller that never comes up."""
        assert world.controller is not None
        for _ in range(KILLS):
            await world.links_up(120)
            await asyncio.sleep(rng.uniform(1.0, 5.0))
            world.controller.kill()
            await world.links_down(30)  # the PBXs saw the old process go: its sessions end

    async def figure(world: World, counted: Tally) -> tuple[int, str]:
        assert world.controller is not None
        twice = world.ledger.originated_twice()
        return 0, f"kills={KILLS} starts={world.controller.starts} callbacks_rung_twice={twice}"

    return await run_row(stack, plan, NAME, kill, figure)
