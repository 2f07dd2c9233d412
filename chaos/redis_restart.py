"""The run's own Redis (server mode, append-only file) restarted mid-traffic."""

from __future__ import annotations

from chaos.restarts import restart
from chaos.row import Result, run_row
from chaos.stack import Stack
from chaos.world import Plan

NAME = "redis_restart"


async def run(stack: Stack, plan: Plan) -> Result:
    fault, figure = restart(stack.redis.stop, stack.redis.start, 0.4)
    return await run_row(stack, plan, NAME, fault, figure)
