"""What every row shares: run the world with a fault, count, print one CHAOS line."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass

from chaos.stack import Stack
from chaos.tally import Tally, tally
from chaos.world import Plan, World

Fault = Callable[[World], Coroutine[object, object, None]]
# A row's own figure from the settled world and its tally: (further losses, the text).
Figure = Callable[[World, Tally], Awaitable[tuple[int, str]]]


@dataclass(frozen=True)
class Result:
    name: str
    lost: int
    duplicated: int
    figure: str

    def line(self) -> str:
        return f"CHAOS {self.name} lost={self.lost} duplicated={self.duplicated} {self.figure}"


async def run_row(stack: Stack, plan: Plan, name: str, fault: Fault, figure: Figure) -> Result:
    world = World(stack, plan, name)
    try:
        await world.open()
        await world.traffic_with(fault)
        counted = await tally(world.ledger, world.db_url, skip=world.gone)
        more, text = await figure(world, counted)
    finally:
        await world.close()
    for kind, calls in counted.examples.items():  # evidence: where to look in the logs
        print(f"# {name} {kind}: {' '.join(calls)}", flush=True)
    return Result(name, counted.lost + more, counted.duplicated, f"{text} {counted.breakdown()}")


async def no_figure(world: World, counted: Tally) -> tuple[int, str]:
    return 0, ""
