"""`hotline users ...`: staff accounts (the first admin is created here)."""

from __future__ import annotations

import asyncio
import getpass
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, help="staff accounts")
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"hotline: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option(help="seat, dispatcher, qa, qa_lead, admin, unit or leader")],
    seat: Annotated[str | None, typer.Option("--seat", help="seat id (seat users)")] = None,
    unit: Annotated[
        str | None, typer.Option("--unit", help="unit name (unit users: 承办单位 accounts)")
    ] = None,
    name: Annotated[str, typer.Option(help="name shown on pages")] = "",
    password_env: Annotated[
        str | None,
        typer.Option(help="read the password from this environment variable, not a prompt"),
    ] = None,
) -> None:
    """Create a user; the password is asked for (twice) unless --password-env is given."""
    import os

    from pydantic import TypeAdapter, ValidationError

    from api.schemas import Password, Role, SeatId, Username
    from api.services import users
    from hotline.cli import settings_or_exit
    from hotline.db import make_engine, session_factory
    from store.errors import DomainError
    from tickets.units import UnitDirectoryError, set_member, unit_id_of

    try:
        TypeAdapter(Username).validate_python(username)
        TypeAdapter(Role).validate_python(role)
        if seat is not None:
            TypeAdapter(SeatId).validate_python(seat)
    except ValidationError as exc:
        raise _fail(f"invalid value: {exc.errors()[0]['msg']}") from None
    if (role == "unit") != (unit is not None):
        raise _fail("--unit is given with --role unit, and only then")
    if password_env:
        password = os.environ.get(password_env, "")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise _fail("the passwords differ")
    try:
        TypeAdapter(Password).validate_python(password)
    except ValidationError:
        raise _fail("the password must have 8 to 200 characters") from None
    settings = settings_or_exit()

    async def go() -> int:
        engine = make_engine(settings.resolved_database_url)
        sessions = session_factory(engine)
        try:
            if unit is not None:
                async with sessions() as session:
                    if await unit_id_of(session, unit) is None:
                        raise UnitDirectoryError(f"no unit named {unit!r} (hotline units list)")
            user = await users.create(sessions, username, password, role, seat)
            if unit is not None:
                async with sessions() as session:
                    await set_member(session, user.id, unit)
            return user.id
        finally:
            await engine.dispose()

    try:
        user_id = asyncio.run(go())
    except (DomainError, UnitDirectoryError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"user {username} ({role}) created with id {user_id}")
