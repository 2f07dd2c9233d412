"""Tickets in a given state for call tests (simulator and real PBX): a replied ticket is due
for a return visit."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.test_api_tickets import Draft
from tickets.lifecycle import Action, Command, Role
from tickets.loop import Actor, act
from tickets.service import create_ticket
from tickets.units import load_units, seed_units

DISPATCHER = Actor("disp", Role.DISPATCHER)


async def replied_ticket(sessions: async_sessionmaker[AsyncSession], number: str) -> int:
    """A ticket of ``number``, dispatched to a street, signed and replied: due for a visit."""
    async with sessions() as s:
        street = (await seed_units(s, load_units()))["雁塔区丈八沟街道"]
        t = await create_ticket(s, Draft(), call_id=f"c-{number}", caller_number=number)
    unit = Actor("jd", Role.UNIT, street)
    for actor, cmd in (
        (DISPATCHER, Command(Action.DISPATCH, Role.DISPATCHER, units=(street,))),
        (unit, Command(Action.SIGN, Role.UNIT)),
        (unit, Command(Action.REPLY, Role.UNIT, reason="已修复")),
    ):
        async with sessions() as s:
            await act(s, t.id, cmd, actor)
    return t.id
