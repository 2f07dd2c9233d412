"""Staff accounts and seat profiles."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.auth import hash_password
from api.errors import Invalid
from api.models import ROLES, SeatProfile, User
from store.errors import Conflict, NotFound
from store.sessions import Sessions


def _check_role(role: str, seat_id: str | None) -> None:
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}")
    if role == "seat" and not seat_id:
        raise Invalid("a seat user needs a seat id")


async def by_username(sessions: Sessions, username: str) -> User | None:
    async with sessions() as session:
        return await session.scalar(select(User).where(User.username == username))


async def get(sessions: Sessions, user_id: int) -> User:
    async with sessions() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        return user


async def list_all(sessions: Sessions) -> list[User]:
    async with sessions() as session:
        return list((await session.scalars(select(User).order_by(User.id))).all())


async def create(
    sessions: Sessions,
    username: str,
    password: str,
    role: str,
    seat_id: str | None = None,
    display_name: str = "",
    *,
    password_hash: str | None = None,
    cities: list[str] | None = None,
) -> User:
    """``password_hash`` instead of hashing ``password`` here: an argon2 hash made elsewhere
    (an import, or tests with cheap parameters)."""
    _check_role(role, seat_id)
    user = User(
        username=username,
        password_hash=password_hash or hash_password(password),
        role=role,
        seat_id=seat_id or None,
        display_name=display_name,
        cities=list(cities or ()),
    )
    try:
        async with sessions.begin() as session:
            session.add(user)
    except IntegrityError:
        raise Conflict(f"user {username} exists already") from None
    return user


async def update(
    sessions: Sessions,
    user_id: int,
    *,
    role: str | None = None,
    seat_id: str | None = None,
    active: bool | None = None,
    password: str | None = None,
    display_name: str | None = None,
    cities: list[str] | None = None,
) -> User:
    async with sessions.begin() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        new_role = role or user.role
        new_seat = seat_id if seat_id is not None else user.seat_id
        _check_role(new_role, new_seat)
        user.role, user.seat_id = new_role, new_seat or None
        if active is not None:
            user.active = active
        if password is not None:
            user.password_hash = hash_password(password)
        if display_name is not None:
            user.display_name = display_name
        if cities is not None:
            user.cities = list(cities)
        return user


async def delete(sessions: Sessions, user_id: int) -> None:
    async with sessions.begin() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        await session.delete(user)


# --- seat profiles ----------------------------------------------------------------------
async def seat_profile(sessions: Sessions, seat_id: str) -> SeatProfile:
    async with sessions() as session:
        seat = await session.get(SeatProfile, seat_id)
        if seat is None:
            raise NotFound(f"seat {seat_id} is not set up (admin: seats)")
        return seat


async def seat_profiles(sessions: Sessions, city: str | None = None) -> list[SeatProfile]:
    async with sessions() as session:
        query = select(SeatProfile).order_by(SeatProfile.seat_id)
        if city:
            query = query.where(SeatProfile.city == city)
        return list((await session.scalars(query)).all())


async def save_seat_profile(
    sessions: Sessions, seat_id: str, city: str, skills: dict[str, int], endpoint: str
) -> SeatProfile:
    async with sessions.begin() as session:
        seat = await session.get(SeatProfile, seat_id)
        if seat is None:
            seat = SeatProfile(seat_id=seat_id)
            session.add(seat)
        seat.city, seat.skills, seat.endpoint = city, dict(skills), endpoint
        return seat


async def set_seat_skills(sessions: Sessions, seat_id: str, skills: dict[str, int]) -> None:
    async with sessions.begin() as session:
        seat = await session.get(SeatProfile, seat_id)
        if seat is None:
            raise NotFound(f"seat {seat_id} is not set up (admin: seats)")
        seat.skills = dict(skills)


async def delete_seat_profile(sessions: Sessions, seat_id: str) -> None:
    async with sessions.begin() as session:
        seat = await session.get(SeatProfile, seat_id)
        if seat is None:
            raise NotFound(f"no seat {seat_id}")
        await session.delete(seat)
