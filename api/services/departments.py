"""The department directory (tickets' table) as the admin edits it and seats dial it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from store.errors import Conflict, NotFound
from store.sessions import Sessions
from tickets.models import Department


async def list_all(sessions: Sessions) -> list[Department]:
    async with sessions() as session:
        return list((await session.scalars(select(Department).order_by(Department.id))).all())


async def get(sessions: Sessions, department_id: int) -> Department:
    async with sessions() as session:
        row = await session.get(Department, department_id)
        if row is None:
            raise NotFound(f"no department {department_id}")
        return row


async def save(
    sessions: Sessions,
    department_id: int | None,
    name: str,
    number: str,
    duty_hours: str,
    categories: list[str],
) -> Department:
    try:
        async with sessions.begin() as session:
            if department_id is None:
                row = Department(name=name)
                session.add(row)
            else:
                found = await session.get(Department, department_id)
                if found is None:
                    raise NotFound(f"no department {department_id}")
                row = found
            row.name, row.number, row.duty_hours, row.categories = (
                name,
                number,
                duty_hours,
                list(categories),
            )
            await session.flush()
            return row
    except IntegrityError:
        raise Conflict(f"department {name} exists already") from None


async def delete(sessions: Sessions, department_id: int) -> None:
    try:
        async with sessions.begin() as session:
            row = await session.get(Department, department_id)
            if row is None:
                raise NotFound(f"no department {department_id}")
            await session.delete(row)
    except IntegrityError:
        raise Conflict(f"department {department_id} has tickets; it cannot be deleted") from None
