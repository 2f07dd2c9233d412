"""Admin: users and roles, seats, cities (overflow rules), departments, the QA rubric and
the audit log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from acd.queue import overflow
from api import auth, views
from api import schemas as s
from api.auth import AdminUser
from api.demo_guard import REFUSED, is_demo_password
from api.deps import AppDeps, Deps, SessionsDep
from api.errors import Invalid
from api.services import departments, qa, users
from store.errors import NotFound

router = APIRouter(prefix="/api/admin", tags=["admin"])


# --- users ----------------------------------------------------------------------------
@router.get("/users")
async def list_users(who: AdminUser, sessions: SessionsDep) -> list[s.UserOut]:
    return [views.user(u) for u in await users.list_all(sessions)]


def _check_user_input(deps: AppDeps, password: str | None, cities: list[str] | None) -> None:
    if password is not None and deps.production and is_demo_password(password):
        raise Invalid(REFUSED)
    unknown = sorted(set(cities or ()) - set(deps.cities))
    if unknown:
        raise Invalid(f"未配置的城市：{', '.join(unknown)}（已配置：{', '.join(deps.cities)}）")


@router.post("/users", status_code=201, responses={409: {}, 422: {}})
async def create_user(
    body: s.UserIn, who: AdminUser, deps: Deps, sessions: SessionsDep
) -> s.UserOut:
    _check_user_input(deps, body.password, body.cities)
    row = await users.create(
        sessions,
        body.username,
        body.password,
        body.role,
        body.seat_id,
        body.display_name,
        password_hash=await auth.hash_password_async(body.password),
        cities=body.cities,
    )
    await qa.audit(
        sessions, who, "user.create", f"user:{row.id}", None, _user_detail(row.role, row.cities)
    )
    return views.user(row)


def _user_detail(role: str, cities: list[str] | None) -> str:
    return f"role {role}" + (f", cities {','.join(cities)}" if cities else "")


@router.patch("/users/{user_id}", responses={404: {}, 422: {}})
async def update_user(
    user_id: s.RowId, body: s.UserPatch, who: AdminUser, deps: Deps, sessions: SessionsDep
) -> s.UserOut:
    _check_user_input(deps, body.password, body.cities)
    before = await users.get(sessions, user_id)
    row = await users.update(
        sessions,
        user_id,
        role=body.role,
        seat_id=body.seat_id,
        active=body.active,
        password=body.password,
        display_name=body.display_name,
        cities=body.cities,
    )
    changes = [
        f"{name} {old}->{new}"
        for name, old, new in (
            ("role", before.role, row.role),
            ("seat", before.seat_id, row.seat_id),
            ("active", before.active, row.active),
            ("cities", ",".join(before.cities or ()), ",".join(row.cities or ())),
        )
        if old != new
    ] + (["password reset"] if body.password is not None else [])
    if changes:
        await qa.audit(sessions, who, "user.update", f"user:{user_id}", None, "; ".join(changes))
    if (
        body.role is not None
        or body.active is False
        or body.password is not None
        or body.cities is not None
    ):
        await auth.revoke_user(deps.redis, user_id)  # sessions carry the old role and cities
    return views.user(row)


@router.delete("/users/{user_id}", status_code=204, responses={404: {}})
async def delete_user(
    user_id: s.RowId, who: AdminUser, deps: Deps, sessions: SessionsDep
) -> Response:
    row = await users.get(sessions, user_id)
    await users.delete(sessions, user_id)
    await auth.revoke_user(deps.redis, user_id)
    await qa.audit(sessions, who, "user.delete", f"user:{user_id}", None, row.username)
    return Response(status_code=204)


# --- seats ----------------------------------------------------------------------------
@router.get("/seats")
async def list_seats(
    who: AdminUser, sessions: SessionsDep, city: str | None = None
) -> list[s.SeatProfileOut]:
    return [views.seat_profile(x) for x in await users.seat_profiles(sessions, city)]


def _city(deps: AppDeps, city: str) -> str:
    if city not in deps.cities:
        raise NotFound(f"unknown city {city!r}; configured: {', '.join(deps.cities)}")
    return city


@router.put("/seats/{seat_id}", responses={404: {}})
async def save_seat(
    seat_id: Annotated[str, s.SeatIdPath],
    body: s.SeatProfileIn,
    who: AdminUser,
    deps: Deps,
    sessions: SessionsDep,
) -> s.SeatProfileOut:
    row = await users.save_seat_profile(
        sessions,
        seat_id,
        _city(deps, body.city),
        {k.value: v for k, v in body.skills.items()},
        body.endpoint,
    )
    return views.seat_profile(row)


@router.delete("/seats/{seat_id}", status_code=204, responses={404: {}})
async def delete_seat(seat_id: str, who: AdminUser, sessions: SessionsDep) -> Response:
    await users.delete_seat_profile(sessions, seat_id)
    return Response(status_code=204)


# --- cities ---------------------------------------------------------------------------
async def _overflow(deps: AppDeps, city: str) -> s.OverflowOut:
    state = await overflow.get_state(deps.redis, city, deps.partners.get(city, ()))
    return s.OverflowOut(
        city=city,
        enabled=state.enabled,
        helpers=list(state.helpers),
        rule=json.loads(overflow.rule_json(state.rule)),
    )


@router.get("/cities")
async def list_cities(who: AdminUser, deps: Deps) -> list[s.OverflowOut]:
    """Configured cities (from settings) with their 多援一 partners and thresholds."""
    return [await _overflow(deps, c) for c in deps.cities]


@router.put("/cities/{city}/rule", responses={404: {}})
async def set_rule(
    city: str, body: s.RuleIn, who: AdminUser, deps: Deps, sessions: SessionsDep
) -> s.OverflowOut:
    rule = overflow.OverflowRule(
        wait_s=body.wait_s,
        ewt_s=body.ewt_s,
        callers_per_ready=body.callers_per_ready,
        all_cities_wait_s=body.all_cities_wait_s,
    )
    _city(deps, city)
    detail = json.dumps(body.model_dump(), separators=(",", ":"))
    await qa.audit(sessions, who, "overflow.rule", f"city:{city}", None, detail)
    await overflow.set_rule(deps.redis, city, rule)
    return await _overflow(deps, city)


# --- departments ----------------------------------------------------------------------
@router.get("/departments")
async def list_departments(who: AdminUser, sessions: SessionsDep) -> list[s.DepartmentOut]:
    return [views.department(d) for d in await departments.list_all(sessions)]


@router.post("/departments", status_code=201, responses={409: {}})
async def create_department(
    body: s.DepartmentIn, who: AdminUser, sessions: SessionsDep
) -> s.DepartmentOut:
    row = await departments.save(
        sessions, None, body.name, body.number, body.duty_hours, body.categories
    )
    return views.department(row)


@router.put("/departments/{department_id}", responses={404: {}, 409: {}})
async def update_department(
    department_id: s.RowId, body: s.DepartmentIn, who: AdminUser, sessions: SessionsDep
) -> s.DepartmentOut:
    row = await departments.save(
        sessions, department_id, body.name, body.number, body.duty_hours, body.categories
    )
    return views.department(row)


@router.delete("/departments/{department_id}", status_code=204, responses={404: {}, 409: {}})
async def delete_department(
    department_id: s.RowId, who: AdminUser, sessions: SessionsDep
) -> Response:
    await departments.delete(sessions, department_id)
    return Response(status_code=204)


# --- QA rubric and audit log ----------------------------------------------------------
@router.put("/rubric")
async def save_rubric(body: s.RubricIn, who: AdminUser, sessions: SessionsDep) -> s.RubricOut:
    row = await qa.save_rubric(sessions, body.name, [i.model_dump() for i in body.items])
    return s.RubricOut(id=row.id, name=row.name, items=row.items)


@router.get("/audit")
async def audit_log(
    who: AdminUser,
    sessions: SessionsDep,
    call_id: Annotated[str | None, Query(max_length=64)] = None,
    username: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[s.AuditOut]:
    rows = await qa.audit_log(
        sessions, call_id=call_id, username=username, since=since, limit=limit
    )
    return [views.audit(r) for r in rows]
