"""The dispatcher: live queues and seats per city, 多援一 overflow, skills, callbacks,
supervisor monitoring and the ACD statistics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from acd.queue import notify, overflow
from acd.queue.service import Acd, wall_ms
from acd.queue.skills import set_skills
from acd.queue.stats import Stats
from acd.queue.types import SeatState, Skill
from api import schemas as s
from api import sse, views
from api.auth import (
    DispatcherStreamUser,
    DispatcherUser,
    Forbidden,
    Principal,
    check_city,
    may_act_on,
)
from api.deps import AppDeps, Deps, SessionsDep
from api.errors import Invalid
from api.services import dispatch, qa, users
from api.services.controller import ask
from api.services.qa import audit
from store import keys
from store.errors import InvalidState, NotFound

router = APIRouter(prefix="/api/dispatcher", tags=["dispatcher"])
SEATS_EVERY_S = 1.0
_CMD: dict[int | str, dict[str, Any]] = {
    404: {},
    409: {},
    504: {"description": "the controller did not answer in time"},
}


def _known(deps: AppDeps, city: str) -> str:
    if city not in deps.cities:
        raise NotFound(f"unknown city {city!r}; configured: {', '.join(deps.cities)}")
    return city


def _city(deps: AppDeps, who: Principal, city: str) -> str:
    """A configured city this dispatcher may act on (404, else 403)."""
    check_city(who, _known(deps, city))
    return city


def _mine(deps: AppDeps, who: Principal) -> list[str]:
    return [c for c in deps.cities if may_act_on(who, c)]


async def _overflow(deps: AppDeps, city: str) -> s.OverflowOut:
    state = await overflow.get_state(deps.redis, city, deps.partners.get(city, ()))
    return s.OverflowOut(
        city=city,
        enabled=state.enabled,
        helpers=list(state.helpers),
        rule=json.loads(overflow.rule_json(state.rule)),
    )


async def _city_view(deps: AppDeps, city: str) -> s.CityOut:
    now = wall_ms()
    return s.CityOut(
        city=city,
        label=deps.city_labels.get(city, city),
        queues=await dispatch.queues(deps.redis, city, now),
        overflow=await _overflow(deps, city),
        link=await dispatch.link_state(deps.redis, city),
        stats=await dispatch.snapshots(deps.redis, city, now),
        seats=await dispatch.seats_of_city(deps.redis, city),
        today=await dispatch.today(deps.redis, city, now),
        now_ms=now,
    )


@router.get("/cities")
async def cities(who: DispatcherUser, deps: Deps) -> list[s.CityOut]:
    """Every city: statistics per skill, overflow, seats, AMI link (the wallboard's start)."""
    return [await _city_view(deps, c) for c in _mine(deps, who)]


@router.get("/cities/{city}", responses={404: {}})
async def city(city: str, who: DispatcherUser, deps: Deps) -> s.CityOut:
    return await _city_view(deps, _city(deps, who, city))


@router.get("/cities/{city}/stats", responses={404: {}})
async def stats(
    city: str, who: DispatcherUser, deps: Deps, skill: Skill = Skill.general
) -> dict[str, Any]:
    """The ACD statistics (acd.stats.Snapshot): 15/60 minutes and today, waiting, EWT."""
    return (await Stats(deps.redis).snapshot(_city(deps, who, city), skill, wall_ms())).to_json()


@router.get("/cities/{city}/history", responses={404: {}})
async def history(
    city: str,
    who: DispatcherUser,
    deps: Deps,
    minutes: Annotated[int, Query(ge=1, le=120)] = 60,
) -> list[s.MinuteOut]:
    """Calls per minute over the last hour (the wallboard's chart)."""
    return await dispatch.minutes(deps.redis, _city(deps, who, city), wall_ms(), minutes)


@router.put("/cities/{city}/overflow", responses={403: {}, 404: {}})
async def set_overflow(
    city: str, body: s.OverflowIn, who: DispatcherUser, deps: Deps, sessions: SessionsDep
) -> s.OverflowOut:
    """多援一 on or off for the city's callers (every controller reads it from Redis)."""
    _city(deps, who, city)
    state = "on" if body.enabled else "off"
    await qa.audit(sessions, who, "overflow.switch", f"city:{city}", None, state)
    await overflow.set_enabled(deps.redis, city, body.enabled)
    return await _overflow(deps, city)


@router.put("/cities/{city}/helpers/{helper}", responses={403: {}, 404: {}, 422: {}})
async def add_helper(
    city: str, helper: str, who: DispatcherUser, deps: Deps, sessions: SessionsDep
) -> s.OverflowOut:
    _city(deps, who, city)
    _known(deps, helper)
    if helper == city:
        raise Invalid(f"city {city} cannot help itself")
    await qa.audit(sessions, who, "overflow.helper", f"city:{city}", None, f"+{helper}")
    current = await _overflow(deps, city)  # writes the defaults before changing them
    await overflow.configure(deps.redis, city, tuple(current.helpers))
    await overflow.add_helper(deps.redis, city, helper)
    return await _overflow(deps, city)


@router.delete("/cities/{city}/helpers/{helper}", responses={403: {}, 404: {}})
async def remove_helper(
    city: str, helper: str, who: DispatcherUser, deps: Deps, sessions: SessionsDep
) -> s.OverflowOut:
    _city(deps, who, city)
    await qa.audit(sessions, who, "overflow.helper", f"city:{city}", None, f"-{helper[:64]}")
    current = await _overflow(deps, city)
    await overflow.configure(deps.redis, city, tuple(current.helpers))
    await overflow.remove_helper(deps.redis, city, helper)
    return await _overflow(deps, city)


@router.put("/seats/{seat_id}/skills", responses={404: {}})
async def seat_skills(
    seat_id: str, body: s.SkillsIn, who: DispatcherUser, deps: Deps, sessions: SessionsDep
) -> s.SeatProfileOut:
    """Move a seat between skills: its profile, and at once if it is logged in."""
    check_city(who, (await users.seat_profile(sessions, seat_id)).city)
    skills = {Skill(k): v for k, v in body.skills.items()}
    await users.set_seat_skills(sessions, seat_id, {k.value: v for k, v in skills.items()})
    if await Acd(deps.redis).is_logged_in(seat_id):
        await set_skills(deps.redis, seat_id, skills)
    return views.seat_profile(await users.seat_profile(sessions, seat_id))


async def _seat_changed(deps: AppDeps, seat_id: str) -> s.SeatStateOut:
    """The seat's state after a dispatcher changed it, told to the seat's own page too."""
    view = await Acd(deps.redis).seat(seat_id)
    await notify.seat_state(deps.redis, view)
    return views.seat_state(view)


@router.post("/seats/{seat_id}/ready", responses={404: {}, 409: {}})
async def force_ready(
    seat_id: s.SeatId, who: DispatcherUser, deps: Deps, sessions: SessionsDep
) -> s.SeatStateOut:
    """置为就绪: a seat left paused (a missed ring, a forgotten break) or in wrap-up is made
    ready by the dispatcher. Audited; a seat that is offline, ringing or on a call: 409."""
    acd = Acd(deps.redis)
    view = await acd.seat(seat_id)
    check_city(who, view.city)  # a city's dispatcher acts on its own seats only
    if view.state not in (SeatState.paused, SeatState.wrapup):
        raise InvalidState(f"seat {seat_id} is {view.state}; only a paused or wrap-up seat")
    await audit(sessions, who, "seat.force_ready", f"seat:{seat_id}", detail=view.state.value)
    await acd.ready(seat_id)
    return await _seat_changed(deps, seat_id)


@router.post("/seats/{seat_id}/logout", responses={404: {}, 409: {}})
async def force_logout(
    seat_id: s.SeatId, who: DispatcherUser, deps: Deps, sessions: SessionsDep
) -> s.SeatStateOut:
    """强制签出: a seat whose operator left without signing out stops being offered calls (a
    call ringing on it goes back to its place in the queue). Audited; a seat on a call: 409."""
    acd = Acd(deps.redis)
    view = await acd.seat(seat_id)
    check_city(who, view.city)
    if view.state is SeatState.busy:
        raise InvalidState(f"seat {seat_id} is on a call; cannot sign it out")
    await audit(sessions, who, "seat.force_logout", f"seat:{seat_id}", detail=view.state.value)
    await acd.logout(seat_id)
    return await _seat_changed(deps, seat_id)


@router.get("/callbacks")
async def callbacks(
    who: DispatcherUser,
    deps: Deps,
    sessions: SessionsDep,
    city: str | None = None,
    # The statuses the controller writes (acd/callbacks/store.py, acd/callbacks/tasks.py).
    status: Literal["open", "connected", "cancelled", "failed"] | None = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[s.CallbackOut]:
    """漏话回拨 tasks, newest first (of the cities this dispatcher may act on)."""
    if city:
        _city(deps, who, city)
    scope = [city] if city else (list(who.cities) if who.role != "admin" and who.cities else None)
    rows = await dispatch.callback_tasks(sessions, scope, status, limit)
    last = await dispatch.last_outcomes(sessions, [r.id for r in rows])
    return [views.callback(r, last.get(r.id)) for r in rows]


@router.post("/callbacks/{task_id}/now", responses=_CMD)
async def callback_now(
    task_id: s.RowId, who: DispatcherUser, deps: Deps, sessions: SessionsDep
) -> s.CommandOut:
    """Try this callback as soon as a seat is free."""
    task = await dispatch.callback_task(sessions, task_id)
    if task is None:
        raise NotFound(f"no callback task {task_id}")
    check_city(who, task.city)
    if task.status != "open":
        raise InvalidState(f"callback task {task_id} is {task.status}")
    result = await ask(
        deps.redis, task.city, "callback_now", {"task_id": str(task_id)}, deps.command_timeout_s
    )
    return s.CommandOut(
        ok=True,
        command_id=result.pop("command_id"),
        detail=result.pop("detail"),
        fields=result,
    )


@router.post("/spy", responses=_CMD | {403: {}})
async def spy(
    body: s.SpyIn, who: DispatcherUser, deps: Deps, sessions: SessionsDep
) -> s.CommandOut:
    """班长监听 / 耳语 / 强插 on a seat's call, from the dispatcher's own softphone."""
    supervisor = body.supervisor or who.seat_id
    if not supervisor:
        raise Forbidden(f"user {who.username} has no softphone to listen from; give supervisor")
    view = await Acd(deps.redis).seat(body.seat_id)
    check_city(who, view.city)
    if view.state is not SeatState.busy or not view.call_id:
        raise InvalidState(f"seat {body.seat_id} is {view.state}, not on a call")
    info = await Acd(deps.redis).call_info(view.call_id)
    # Listening in on a citizen's call is audited before it starts, like a playback.
    await qa.audit(
        sessions,
        who,
        f"spy.{body.mode}",
        f"seat:{body.seat_id}",
        view.call_id,
        f"supervisor {supervisor}",
    )
    fields = {"seat_id": body.seat_id, "supervisor": supervisor, "mode": body.mode}
    result = await ask(deps.redis, info["city"], "spy", fields, deps.command_timeout_s)
    return s.CommandOut(
        ok=True, command_id=result.pop("command_id"), detail=result.pop("detail"), fields=result
    )


# --- live stream --------------------------------------------------------------------------
async def _stream(request: Request, deps: AppDeps, wanted: set[str]) -> AsyncIterator[str]:
    client: Any = deps.redis
    # Start with what every city looks like now, then follow the stats stream.
    ordered = [c for c in deps.cities if c in wanted]  # the configured order, every frame
    for city in ordered:
        view = await _city_view(deps, city)
        yield sse.frame("city", view.model_dump(mode="json"))
    last = "$"
    latest = await client.xrevrange(keys.STATS_STREAM, count=1)
    if latest:
        last = latest[0][0]
    loop = asyncio.get_running_loop()
    seats_due = loop.time() + SEATS_EVERY_S
    while not await sse.gone(request):
        reply = await client.xread({keys.STATS_STREAM: last}, block=1000, count=100)
        for _stream_name, entries in reply or []:
            for entry_id, data in entries:
                last = entry_id
                if data.get("city") in wanted:
                    body = json.loads(data["data"])
                    # The entry names city and skill; the callback figures' body does not
                    # (acd/callbacks/stats.py, skill "callbacks"): the page needs both.
                    body.setdefault("city", data["city"])
                    body.setdefault("skill", data.get("skill"))
                    yield sse.frame("stats", body)
        if loop.time() >= seats_due:  # seats, overflow and links change without a stats entry
            seats_due = loop.time() + SEATS_EVERY_S
            for city in ordered:
                now = wall_ms()
                yield sse.frame(
                    "seats",
                    {
                        "city": city,
                        "now_ms": now,
                        "today": (await dispatch.today(deps.redis, city, now)).model_dump(),
                        "seats": [
                            x.model_dump(mode="json")
                            for x in await dispatch.seats_of_city(deps.redis, city)
                        ],
                        "overflow": (await _overflow(deps, city)).model_dump(mode="json"),
                        "link": await dispatch.link_state(deps.redis, city),
                        "queues": {
                            k: [w.model_dump() for w in v]
                            for k, v in (await dispatch.queues(deps.redis, city, wall_ms())).items()
                        },
                    },
                )


@router.get("/stream", response_class=StreamingResponse, responses={429: {}})
async def stream(
    request: Request, who: DispatcherStreamUser, deps: Deps, city: str | None = None
) -> StreamingResponse:
    """Server-sent events for the wallboard: ``city`` once per city, then ``stats`` (each
    snapshot the controllers publish, and their callback figures with ``skill`` =
    ``callbacks``) and ``seats`` every second."""
    wanted = {_city(deps, who, city)} if city else set(_mine(deps, who))
    slot = await sse.claim_slot(deps.redis, who.user_id, deps.streams_per_user)
    return sse.response(sse.held(deps.redis, who.user_id, slot, _stream(request, deps, wanted)))
