"""A server restarted mid-traffic, and how long until the controller routes calls again."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from chaos.row import Fault, Figure
from chaos.tally import Tally
from chaos.world import World

DOWN_S = 2.0  # between the stop and the start


def restart(stop: Callable[[], None], start: Callable[[], None], at: float) -> tuple[Fault, Figure]:
    """The fault (stop, wait DOWN_S, start, at ``at`` of the traffic) and its figure:
    ``recover_s``, from the stop to the first seat Redirect the PBXs receive once the server
    is back (the controller routing again)."""
    moments: dict[str, float] = {}

    async def fault(world: World) -> None:
        await asyncio.sleep(world.at(at))
        moments["stop"] = time.monotonic()
        await asyncio.to_thread(stop)
        await asyncio.sleep(DOWN_S)
        await asyncio.to_thread(start)
        moments["up"] = time.monotonic()

    async def figure(world: World, counted: Tally) -> tuple[int, str]:
        routed = world.ledger.first_redirect_after(moments.get("up", math.inf))
        recover = math.inf if routed is None else routed - moments["stop"]
        down = moments.get("up", math.nan) - moments.get("stop", math.nan)
        return 0, f"down_s={down:.1f} recover_s={recover:.1f}"

    return fault, figure
