"""How a simulated seat operator reaches the ACD: the seat API's verbs, and a direct client.

``DirectAcdSeats`` calls the ACD in-process (the benchmark and the traffic tests);
``loadgen.seat_http.HttpSeats`` does the same through the seat HTTP API (the demo).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from acd.queue.service import Acd
from acd.queue.types import SeatSpec, SeatState


class SeatClient(Protocol):
    """What a seat operator can do at the softphone (the seat API's verbs)."""

    async def login(self, spec: SeatSpec) -> None: ...
    async def ready(self, seat_id: str) -> None: ...
    async def pause(self, seat_id: str, reason: str) -> None: ...
    async def end_wrapup(self, seat_id: str) -> None: ...
    async def state(self, seat_id: str) -> SeatState: ...


@dataclass
class DirectAcdSeats:
    """Seat operations straight on the ACD, in-process (no HTTP in between)."""

    acd: Acd

    async def login(self, spec: SeatSpec) -> None:
        await self.acd.login(spec)

    async def ready(self, seat_id: str) -> None:
        await self.acd.ready(seat_id)

    async def pause(self, seat_id: str, reason: str) -> None:
        await self.acd.pause(seat_id, reason)

    async def end_wrapup(self, seat_id: str) -> None:
        await self.acd.end_wrapup(seat_id)

    async def state(self, seat_id: str) -> SeatState:
        return (await self.acd.seat(seat_id)).state
