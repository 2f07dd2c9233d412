"""The run's own PostgreSQL cluster restarted (fast shutdown) mid-traffic."""

from __future__ import annotations

from chaos.restarts import restart
from chaos.row import Result, run_row
from chaos.stack import Stack
from chaos.world import Plan

NAME = "pg_restart"


async def run(stack: Stack, plan: Plan) -> Result:
    fault, figure = restart(stack.pg.stop, stack.pg.start, 0.4)
    return await run_row(stack, plan, NAME, fault, figure)
