"""Tickets in a real database (SQLite, and PostgreSQL when TEST_DATABASE_URL is set)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tickets.departments import load_departments
from tickets.service import (
    TicketError,
    create_ticket,
    department_directory,
    seed_departments,
    tickets_for_caller,
)

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Confirmed:
    category: str = "城乡建设·供水"
    request_type: str = "求助"
    summary: str = "幸福路｜城乡建设·供水｜水管爆裂"
    location: str | None = "幸福路"
    urgent: bool = True
    department: str | None = "市水务集团"
    tier_days: int = 1


# Tue 2025-09-30 10:00 Shanghai, before 国庆: 1 working day -> Thu 2025-10-09 17:30.
ACCEPTED = datetime(2025, 9, 30, 2, tzinfo=UTC)


async def test_create_from_a_confirmed_draft(sessions: Sessions) -> None:
    async with sessions() as s:
        assert await seed_departments(s, load_departments()) >= 16
        ticket = await create_ticket(
            s, Confirmed(), call_id="c1", caller_number="13800001111", accepted_at=ACCEPTED
        )
    assert ticket.number == f"20250930{ticket.id:06d}"
    # urgent: two clock hours, whatever the calendar says
    assert ticket.due_at == datetime(2025, 9, 30, 4, tzinfo=UTC)
    assert (ticket.status, ticket.enterprise) == ("受理", False)
    async with sessions() as s:
        usual = await create_ticket(
            s, Confirmed(urgent=False), call_id="c1b", caller_number="1", accepted_at=ACCEPTED
        )
    # 1 working day across 国庆: Thu 2025-10-09 17:30 Shanghai
    assert usual.due_at == datetime(2025, 10, 9, 9, 30, tzinfo=UTC)


async def test_unknown_department_is_refused(sessions: Sessions) -> None:
    async with sessions() as s:
        await seed_departments(s, load_departments())
    async with sessions() as s:
        with pytest.raises(TicketError, match="unknown department"):
            await create_ticket(
                s, Confirmed(department="不存在的局"), call_id="c3", caller_number="1"
            )


async def test_list_by_caller(sessions: Sessions) -> None:
    async with sessions() as s:
        await seed_departments(s, load_departments())
        await seed_departments(s, load_departments())  # idempotent by name
        for i, number in enumerate(("13800003333", "13900004444", "13800003333")):
            await create_ticket(
                s,
                Confirmed(urgent=False, tier_days=3, department=None),
                call_id=f"c{i}",
                caller_number=number,
                accepted_at=ACCEPTED,
            )
    async with sessions() as s:
        mine = await tickets_for_caller(s, "13800003333")
    assert [t.call_id for t in mine] == ["c0", "c2"]
    assert all(t.department_id is None for t in mine)


async def test_directory_round_trip(sessions: Sessions) -> None:
    seed = load_departments()
    async with sessions() as s:
        await seed_departments(s, seed)
    async with sessions() as s:
        stored = await department_directory(s)
    assert stored == seed
