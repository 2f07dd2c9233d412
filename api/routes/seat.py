"""The seat operator: state, the current call with its history and draft, tickets, three-way
calls and transfers, and the live stream that pops incoming calls."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from acd.queue import notify
from acd.queue.service import Acd, wall_ms
from acd.queue.types import CallNotFound, SeatNotFound, SeatSpec, SeatState, Skill
from api import schemas as s
from api import sse, views
from api.auth import Forbidden, Principal, SeatStreamUser, SeatUser, bearer_token, revoke_token
from api.deps import AppDeps, Deps, SessionsDep
from api.errors import Invalid
from api.services import calls, departments, seats, users
from api.services.controller import ask
from store.errors import InvalidState
from store.sessions import Sessions
from tickets.service import TicketExists, create_ticket

router = APIRouter(prefix="/api/seat", tags=["seat"])


def _seat_id(who: Principal) -> str:
    if not who.seat_id:
        raise Forbidden(f"user {who.username} has no seat")
    return who.seat_id


def _acd(deps: AppDeps) -> Acd:
    return Acd(deps.redis, cities=deps.cities)


async def _state(deps: AppDeps, seat_id: str) -> s.SeatStateOut:
    try:
        view = views.seat_state(await _acd(deps).seat(seat_id))
    except SeatNotFound:
        return views.offline_seat(seat_id)
    return await seats.with_wrapup_left(deps.redis, view, wall_ms())


async def _changed(deps: AppDeps, seat_id: str) -> s.SeatStateOut:
    state = await _state(deps, seat_id)
    await notify.seat_event(deps.redis, seat_id, "state", seat=state.model_dump())
    return state


@router.get("/state")
async def state(who: SeatUser, deps: Deps) -> s.SeatStateOut:
    return await _state(deps, _seat_id(who))


@router.post("/login", responses={404: {}, 409: {}})
async def login(who: SeatUser, deps: Deps, sessions: SessionsDep) -> s.SeatStateOut:
    seat_id = _seat_id(who)
    profile = await users.seat_profile(sessions, seat_id)
    spec = SeatSpec(
        seat_id, profile.city, {Skill(k): v for k, v in profile.skills.items()}, profile.endpoint
    )
    await _acd(deps).login(spec)
    return await _changed(deps, seat_id)


@router.post("/ready", responses={404: {}, 409: {}})
async def ready(who: SeatUser, deps: Deps) -> s.SeatStateOut:
    await _acd(deps).ready(_seat_id(who))
    return await _changed(deps, _seat_id(who))


@router.post("/pause", responses={404: {}, 409: {}})
async def pause(body: s.PauseIn, who: SeatUser, deps: Deps) -> s.SeatStateOut:
    await _acd(deps).pause(_seat_id(who), body.reason)
    return await _changed(deps, _seat_id(who))


@router.post("/wrapup/end", responses={404: {}, 409: {}})
async def end_wrapup(who: SeatUser, deps: Deps) -> s.SeatStateOut:
    await _acd(deps).end_wrapup(_seat_id(who))
    return await _changed(deps, _seat_id(who))


@router.post("/logout", responses={404: {}, 409: {}})
async def logout(who: SeatUser, deps: Deps) -> s.SeatStateOut:
    await _acd(deps).logout(_seat_id(who))
    return await _changed(deps, _seat_id(who))


@router.post("/signout", responses={409: {}})
async def signout(request: Request, who: SeatUser, deps: Deps) -> s.Ok:
    """退出: leave the ACD (a ringing call goes back to its place in the queue) and end this
    session's token. A seat on a call cannot leave: 409, and the token stays valid."""
    seat_id = _seat_id(who)
    try:
        await _acd(deps).logout(seat_id)
    except SeatNotFound:
        pass  # never logged in to the ACD: only the token to end
    else:
        await _changed(deps, seat_id)
    token = bearer_token(request)
    if token:
        await revoke_token(deps.redis, token)
    return s.Ok(detail=f"{who.username} signed out")


# --- the call ------------------------------------------------------------------------
async def _current(deps: AppDeps, sessions: Sessions, seat_id: str) -> s.CurrentCallOut:
    seat = await _state(deps, seat_id)
    call: s.CallOut | None = None
    if seat.call_id:
        record = await calls.record_or_none(sessions, seat.call_id)
        try:
            info = await _acd(deps).call_info(seat.call_id)
        except CallNotFound:
            info = {}
        if record is not None:
            call = views.call(record).model_copy(update={"state": info.get("state")})
        elif info:
            call = views.live_call(seat.call_id, info)
    if call is None:  # between calls: the last one, for wrap-up and the ticket
        last = await calls.last_call_of_seat(sessions, seat_id)
        call = views.call(last) if last else None
    if call is None:
        return s.CurrentCallOut(
            seat=seat, call=None, earlier_calls=[], tickets=[], draft=None, ticket=None
        )
    earlier = await calls.earlier_calls(sessions, call.caller_num, call.call_id)
    tickets = await calls.tickets_of_number(sessions, call.caller_num)
    draft = await calls.draft(sessions, call.call_id)
    confirmed = await calls.ticket_of_call(sessions, call.call_id)
    moods = await calls.moods(sessions, [c.call_id for c in earlier])
    trend = [moods[c.call_id] for c in reversed(earlier) if c.call_id in moods]
    if draft is not None and draft.draft.get("emotion"):
        trend.append(str(draft.draft["emotion"]))
    return s.CurrentCallOut(
        seat=seat,
        call=call,
        earlier_calls=[views.call(c) for c in earlier],
        tickets=[views.ticket(t) for t in tickets],
        draft=views.draft(draft) if draft else None,
        ticket=views.ticket(confirmed) if confirmed else None,
        transfers=[views.transfer(t) for t in await calls.transfers(sessions, call.call_id)],
        mood_trend=trend,
    )


@router.get("/call")
async def current_call(who: SeatUser, deps: Deps, sessions: SessionsDep) -> s.CurrentCallOut:
    """The call on the seat now (or the last one), the caller's earlier calls and tickets,
    and the ticket draft built from the transcript."""
    return await _current(deps, sessions, _seat_id(who))


@router.get("/pending")
async def pending(
    who: SeatUser, sessions: SessionsDep, hours: Annotated[int, Query(ge=1, le=72)] = 24
) -> list[s.PendingOut]:
    """待确认工单: the seat's answered calls of the last ``hours`` with no ticket yet, newest
    first, each with its draft once the ASR worker has built it (a minute or so after)."""
    since = datetime.now(UTC) - timedelta(hours=hours)
    rows = await calls.pending_of_seat(sessions, _seat_id(who), since)
    return [
        s.PendingOut(call=views.call(call), draft=views.draft(draft) if draft else None)
        for call, draft in rows
    ]


@router.get("/calls")
async def my_calls(
    who: SeatUser, sessions: SessionsDep, limit: int = 50, offset: int = 0
) -> list[s.CallOut]:
    found = await calls.search(
        sessions,
        calls.CallFilter(
            seat_id=_seat_id(who), limit=max(1, min(limit, 200)), offset=max(0, offset)
        ),
    )
    return [views.call(c) for c in found]


async def _own_call(sessions: Sessions, who: Principal, call_id: str) -> s.CallOut:
    record = await calls.record(sessions, call_id)
    if record.seat_id != _seat_id(who):
        raise Forbidden(f"call {call_id} was not answered by seat {who.seat_id}")
    return views.call(record)


@router.get("/calls/{call_id}", responses={403: {}, 404: {}})
async def my_call(call_id: str, who: SeatUser, sessions: SessionsDep) -> s.QaCallOut:
    call = await _own_call(sessions, who, call_id)
    recordings = await calls.recordings_of_call(sessions, call_id)
    return s.QaCallOut(
        call=call,
        recordings=[views.recording(r) for r in recordings if r.deleted_at is None],
        scores=[],
        comments=[],
        transfers=[views.transfer(t) for t in await calls.transfers(sessions, call_id)],
    )


@router.post("/calls/{call_id}/ticket", status_code=201, responses={403: {}, 404: {}, 409: {}})
async def confirm_ticket(
    call_id: str, body: s.TicketIn, who: SeatUser, sessions: SessionsDep, deps: Deps
) -> s.TicketOut:
    """Confirm the draft (as corrected by the seat) into a ticket (工单)."""
    call = await _own_call(sessions, who, call_id)
    async with sessions() as session:
        try:
            row = await create_ticket(
                session,
                body,
                call_id=call_id,
                caller_number=call.caller_num,
                calendar=deps.calendar,
                enterprise=call.skill == Skill.enterprise,  # 政企通: always a return visit
            )
        except TicketExists as exc:
            raise InvalidState(str(exc)) from None
    return views.ticket(row)


# --- three-way and transfer (the caller's city's controller acts) ---------------------
@router.get("/departments")
async def directory(who: SeatUser, sessions: SessionsDep) -> list[s.DepartmentOut]:
    """The departments a seat can bring into a call or transfer to."""
    return [views.department(d) for d in await departments.list_all(sessions)]


async def _talking(deps: AppDeps, seat_id: str) -> tuple[str, str]:
    """(call id, the caller's city) of the call the seat is talking on."""
    seat = await _state(deps, seat_id)
    if seat.state != SeatState.busy or not seat.call_id:
        raise InvalidState(f"seat {seat_id} is {seat.state}, not on a call")
    try:
        info = await _acd(deps).call_info(seat.call_id)
    except CallNotFound:
        raise InvalidState(f"call {seat.call_id} has ended") from None
    return seat.call_id, info["city"]


async def _target(sessions: Sessions, body: s.TargetIn) -> dict[str, str]:
    if body.department_id is not None:
        await departments.get(sessions, body.department_id)  # 404 for an unknown one
        return {"department_id": str(body.department_id)}
    if body.number is None:
        raise Invalid("give exactly one of department_id or number")
    return {"number": body.number}


def _command(result: dict[str, str]) -> s.CommandOut:
    command_id = result.pop("command_id")
    detail = result.pop("detail")
    return s.CommandOut(ok=True, command_id=command_id, detail=detail, fields=result)


_CMD: dict[int | str, dict[str, Any]] = {
    404: {},
    409: {},
    504: {"description": "the controller did not answer in time"},
}


@router.post("/conference", responses=_CMD)
async def conference(
    body: s.ConferenceIn, who: SeatUser, deps: Deps, sessions: SessionsDep
) -> s.CommandOut:
    """三方通话: bring a department (or a number) into the call."""
    seat_id = _seat_id(who)
    call_id, city = await _talking(deps, seat_id)
    fields = {"call_id": call_id, "seat_id": seat_id, "stay": "1" if body.stay else "0"}
    fields |= await _target(sessions, body)
    return _command(await ask(deps.redis, city, "conference", fields, deps.command_timeout_s))


@router.post("/conference/leave", responses=_CMD)
async def conference_leave(who: SeatUser, deps: Deps) -> s.CommandOut:
    seat_id = _seat_id(who)
    call_id, city = await _talking(deps, seat_id)
    fields = {"call_id": call_id, "seat_id": seat_id}
    return _command(await ask(deps.redis, city, "conference_leave", fields, deps.command_timeout_s))


@router.post("/transfer", responses=_CMD)
async def transfer(
    body: s.TargetIn, who: SeatUser, deps: Deps, sessions: SessionsDep
) -> s.CommandOut:
    """转接: hand the caller to a department and leave."""
    seat_id = _seat_id(who)
    call_id, city = await _talking(deps, seat_id)
    fields = {"call_id": call_id, "seat_id": seat_id} | await _target(sessions, body)
    return _command(await ask(deps.redis, city, "blind_transfer", fields, deps.command_timeout_s))


# --- live stream --------------------------------------------------------------------------
async def _events(
    request: Request, deps: AppDeps, sessions: Sessions, seat_id: str
) -> AsyncIterator[str]:
    pubsub: Any = deps.redis.pubsub()
    await pubsub.subscribe(notify.channel(deps.redis, seat_id))
    try:
        # Subscribed first, then the snapshot: nothing between the two is lost.
        current = await _current(deps, sessions, seat_id)
        yield sse.frame("hello", current.model_dump(mode="json"))
        idle = 0.0
        while not await sse.gone(request):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                idle += 1.0
                if idle >= sse.HEARTBEAT_S:
                    idle = 0.0
                    yield ": keep-alive\n\n"
                continue
            idle = 0.0
            data = json.loads(message["data"])
            yield sse.frame(str(data.get("type", "message")), data)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(pubsub.aclose())


@router.get("/events", response_class=StreamingResponse, responses={429: {}})
async def events(
    request: Request, who: SeatStreamUser, deps: Deps, sessions: SessionsDep
) -> StreamingResponse:
    """Server-sent events: ``hello`` (state and call), then ``ringing`` / ``answered`` /
    ``ended`` / ``state`` as they happen. EventSource passes the token as ``?token=``."""
    seat_id = _seat_id(who)
    slot = await sse.claim_slot(deps.redis, who.user_id, deps.streams_per_user)
    source = _events(request, deps, sessions, seat_id)
    return sse.response(sse.held(deps.redis, who.user_id, slot, source))
