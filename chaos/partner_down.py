"""A partner city's PBX gone during 多援一: the first city is short of seats and overflows to
its partners; one partner's PBX dies (its calls drop, its AMI goes, its trunk rings out).
``on_trunk``: callers rung over the dead trunk who were never answered and did not hang up
(left to the fallback or still on the PBX: counted lost by the tally too)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace

from chaos.row import Result, run_row
from chaos.stack import Stack
from chaos.tally import Tally
from chaos.world import Plan, World
from sim.engine import SeatBehaviour

NAME = "partner_down"
Dice = Callable[[str], SeatBehaviour | None]
AT = 0.3


def _kill_pbx(world: World, city: str) -> None:
    """The PBX and its trunk are gone: its calls drop, its AMI clients too, and every other
    PBX's Dial over its trunk rings out."""
    assert world.traffic is not None
    world.traffic.stop_arrivals(city)
    world.gone = frozenset({city})
    pbx = world.pbxs[city]
    for chan in pbx.live():
        pbx.hangup(chan.name)
    server = world.servers[city]
    server.username = "gone"  # it refuses the controller's reconnects
    for session in list(server.sessions):
        session.close()
    dead = {sp.seat_id for c in world.cities if c.name == city for sp in c.seats}
    for other in world.pbxs.values():
        other.seat_dice = _ringing_out(dead, other.seat_dice)


def _ringing_out(dead: set[str], dice: Dice | None) -> Dice:
    """The seats in ``dead`` never answer (their PBX is gone); the others as before."""

    def draw(seat: str) -> SeatBehaviour | None:
        if seat in dead:
            return SeatBehaviour(answer_after_s=None)
        return None if dice is None else dice(seat)

    return draw


async def run(stack: Stack, plan: Plan) -> Result:
    plan = replace(plan, first_city_seats=2)
    moments: dict[str, float] = {}

    async def fault(world: World) -> None:
        await asyncio.sleep(world.at(AT))
        partner = world.cities[0].partners[0]
        moments["gone"] = time.monotonic()
        _kill_pbx(world, partner)

    async def figure(world: World, counted: Tally) -> tuple[int, str]:
        (partner,) = world.gone
        trunk = f"@trunk-{partner}"
        rung = [
            c
            for c in world.ledger.calls.values()
            if c.city != partner and any(trunk in s for s in c.seats)
        ]
        on_trunk = [c for c in rung if c.answered is None and c.outcome != "abandoned"]
        calls = world.ledger.calls.values()
        overflowed = sum(1 for c in calls if any("@trunk" in s for s in c.seats))
        text = f"on_trunk={len(on_trunk)} rung_dead_trunk={len(rung)} overflowed={overflowed}"
        return 0, text  # stuck and fallback callers are in the tally already

    return await run_row(stack, plan, NAME, fault, figure)
