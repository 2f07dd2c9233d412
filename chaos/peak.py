"""The peak itself: 15-s service level, answered %, the controller's CPU, p99 routing."""

from __future__ import annotations

import asyncio
import time

from chaos.row import Result, run_row
from chaos.stack import Stack
from chaos.tally import Tally, route_p99_ms
from chaos.world import Plan, World

NAME = "peak"


class _Cpu:
    share = 0.0

    async def measure(self, world: World) -> None:
        """The controller's CPU seconds over the traffic's wall seconds (1.0 = one core)."""
        assert world.controller is not None
        cpu0, t0 = world.controller.cpu_s(), time.monotonic()
        await asyncio.sleep(world.plan.traffic_s)
        self.share = (world.controller.cpu_s() - cpu0) / (time.monotonic() - t0)


async def run(stack: Stack, plan: Plan) -> Result:
    cpu = _Cpu()

    async def figure(world: World, counted: Tally) -> tuple[int, str]:
        p99 = await route_p99_ms(world.redis, [c.name for c in world.cities])
        sl = counted.within_15s / max(1, counted.routed)
        answered = counted.answered / max(1, counted.routed)
        text = (
            f"sl15={sl:.1%} answered={answered:.1%} controller_cpu={cpu.share:.0%} "
            f"p99_route_ms={p99:g} rate_per_h={counted.calls / world.plan.traffic_s * 3600:.0f}"
        )
        return 0, text

    return await run_row(stack, plan, NAME, cpu.measure, figure)
