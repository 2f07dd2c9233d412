"""The 工单 loop: dispatchers, units (承办单位), the 回访 desk, and the citizen's status lookup.

Each step is one POST of an action; the rules (which state, which role) are tickets.lifecycle's
and their refusals map to 409 (wrong state), 403 (wrong role), 404 (not found, or another
unit's ticket) and 422 (a missing reason, an unknown unit) in api/errors.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from acd.callbacks.visit_tables import VisitCall
from api import schemas_intake as sis
from api import schemas_tickets as st
from api.auth import DispatcherUser, Forbidden, Principal, require
from api.deps import Deps, ReadSessionsDep, SessionsDep
from api.errors import RateLimited
from api.services import tickets as svc
from api.services import visits as vsvc
from store import keys
from store.base import utcnow
from store.errors import NotFound
from tickets import channels
from tickets import lookup as public
from tickets.lifecycle import Command, State
from tickets.models import Ticket
from tickets.queries import Page

router = APIRouter(prefix="/api", tags=["tickets"])
LoopUser = Annotated[Principal, Depends(require("seat", "dispatcher", "admin", "unit"))]
VisitUser = Annotated[Principal, Depends(require("seat", "dispatcher", "admin"))]
Limit = Annotated[int, Query(ge=1, le=500)]
DB_INT_MAX = 2**31 - 1  # ids are 32-bit integers in PostgreSQL: larger ones are a 422, not a 500
TicketId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
Offset = Annotated[int, Query(ge=0)]
LOOKUPS_PER_MINUTE = 20  # per client address: enough for a citizen, too few to probe numbers


def _row(t: Ticket, now: datetime) -> st.TicketRow:
    return st.TicketRow(
        id=t.id,
        number=t.number,
        status=t.status,
        category=t.category,
        summary=t.summary,
        location=t.location,
        enterprise=t.enterprise,
        urgent=t.urgent,
        accepted_at=t.accepted_at,
        sign_due_at=t.sign_due_at,
        due_at=t.due_at,
        lead_unit_id=t.lead_unit_id,
        returns=t.returns,
        reopen_count=t.reopen_count,
        supervised=t.supervised,
        visit_required=t.visit_required,
        visited=t.visited,
        satisfaction=t.satisfaction,
        extension_days=t.extension_days,
        overdue=svc.is_overdue(t, now),
        channel=t.channel,
    )


def detail_out(d: svc.Detail) -> st.TicketDetail:
    now, t = utcnow(), d.ticket
    return st.TicketDetail(
        **_row(t, now).model_dump(),
        call_id=t.call_id,
        caller_number=t.caller_number,
        request_type=t.request_type,
        reply=t.reply,
        extension_reason=t.extension_reason,
        merged_into_id=t.merged_into_id,
        direct_answer=t.direct_answer,
        kb_entry_id=t.kb_entry_id,
        units=[st.TicketUnitOut(unit_id=u.id, name=u.name, role=role) for u, role in d.units],
        events=[
            st.TicketEventOut(
                action=e.action,
                from_state=e.from_state,
                to_state=e.to_state,
                actor=e.actor,
                role=e.role,
                reason=e.reason,
                detail=e.detail,
                at=e.at,
            )
            for e in d.events
        ],
        duplicates=[
            st.DuplicateOut(ticket=_row(c.ticket, now), score=c.score, reasons=list(c.reasons))
            for c in d.duplicates
        ],
        attachments=[
            st.AttachmentOut(
                id=a.id,
                reply_round=a.reply_round,
                name=a.name,
                content_type=a.content_type,
                size=a.size,
                sha256=a.sha256,
                uploaded_by=a.uploaded_by,
                uploaded_at=a.uploaded_at,
                url=f"/api/ticket-attachments/{a.id}",
            )
            for a in d.attachments
        ],
    )


@router.get("/units")
async def units(who: LoopUser, sessions: SessionsDep) -> list[st.UnitOut]:
    """The unit directory (市 → 县区 → 乡镇街道), for dispatching."""
    return [
        st.UnitOut(id=u.id, name=u.name, level=u.level, parent_id=u.parent_id)
        for u in await svc.units(sessions)
    ]


@router.get("/tickets", responses={403: {}})
async def list_tickets(
    who: LoopUser,
    sessions: SessionsDep,
    state: st.ListState | None = None,
    unit: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
    overdue: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> st.TicketPage:
    """Tickets by state and unit, nearest deadline first; a unit sees only its own."""
    actor = await svc.actor_of(sessions, who)
    rows = await svc.listing(
        sessions,
        actor,
        state=State(state) if state else None,
        unit_id=unit,
        overdue_only=overdue,
        page=Page(limit, offset),
    )
    now = utcnow()
    return st.TicketPage(items=[_row(t, now) for t in rows], limit=limit, offset=offset)


@router.get("/tickets/{ticket_id}", responses={403: {}, 404: {}})
async def ticket(ticket_id: TicketId, who: LoopUser, sessions: SessionsDep) -> st.TicketDetail:
    """One ticket with its units, every step taken, and (for a dispatcher, while it is still
    受理) the open tickets it may repeat."""
    actor = await svc.actor_of(sessions, who)
    return detail_out(await svc.detail(sessions, actor, ticket_id))


@router.post("/tickets/{ticket_id}/actions", responses={403: {}, 404: {}, 409: {}, 422: {}})
async def act(
    ticket_id: TicketId, body: st.ActionIn, who: LoopUser, sessions: SessionsDep, deps: Deps
) -> st.TicketDetail:
    """Take one step of the loop (派单, 签收, 退单, 延期, 办结, 回访, 督办, 销号, 合并...)."""
    actor = await svc.actor_of(sessions, who)
    cmd = Command(
        body.action,
        actor.role,
        reason=body.reason,
        units=tuple(body.units),
        approve=body.approve,
        extension_days=body.extension_days,
        satisfaction=body.satisfaction,
        into=body.into,
        kb_entry=body.kb_entry,
    )
    if body.kb_entry is not None:
        await svc.check_kb_entry(sessions, body.kb_entry)
    await svc.step(sessions, actor, ticket_id, cmd, deps.calendar)
    return detail_out(await svc.detail(sessions, actor, ticket_id, scoped=False))


@router.get("/visits")
async def visits(
    who: VisitUser,
    sessions: SessionsDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> st.TicketPage:
    """回访 desk: replied tickets waiting for their return visit."""
    rows = await svc.visits_due(sessions, Page(limit, offset))
    now = utcnow()
    return st.TicketPage(items=[_row(t, now) for t in rows], limit=limit, offset=offset)


def _visit_call(v: VisitCall, created: bool = False) -> st.VisitCallOut:
    return st.VisitCallOut(
        id=v.id,
        ticket_id=v.ticket_id,
        reply_round=v.reply_round,
        mode=v.mode,
        status=v.status,
        status_label=vsvc.status_label(v),
        attempts=v.attempts,
        outcome=v.outcome,
        outcome_label=vsvc.OUTCOME_LABELS.get(v.outcome or ""),
        result=v.result,
        result_label=vsvc.RESULT_LABELS.get(v.result or ""),
        created_at=v.created_at,
        created=created,
    )


@router.post(
    "/visits/{ticket_id}/calls",
    status_code=201,
    responses={200: {}, 403: {}, 404: {}, 409: {}, 422: {}},
)
async def start_visit_call(
    ticket_id: TicketId,
    body: st.VisitCallIn,
    who: VisitUser,
    sessions: SessionsDep,
    deps: Deps,
    response: Response,
) -> st.VisitCallOut:
    """回访台: one click calls the citizen (automated IVR visit, or a seat first). Asked again
    for the same reply, the visit that exists is returned (200) and nobody is called twice."""
    city = body.city or (who.cities[0] if who.cities else deps.cities[0])
    if city not in deps.cities or (who.cities and city not in who.cities):
        raise Forbidden(f"city {city} is not yours")
    row, created = await vsvc.start(sessions, ticket_id, body.mode, city, who.username, who.seat_id)
    if not created:
        response.status_code = 200
    return _visit_call(row, created)


@router.get("/visits/{ticket_id}/calls", responses={403: {}})
async def visit_calls(
    ticket_id: TicketId, who: VisitUser, sessions: SessionsDep
) -> list[st.VisitCallOut]:
    """Every visit call of the ticket, newest first."""
    found = await vsvc.of_tickets(sessions, [ticket_id])
    return [_visit_call(v) for v in found.get(ticket_id, [])]


@router.get("/visit-calls", responses={403: {}})
async def recent_visit_calls(
    who: VisitUser, sessions: SessionsDep, limit: Limit = 50, offset: Offset = 0
) -> list[st.VisitCallOut]:
    """回访台: the latest visit calls and their results."""
    return [_visit_call(v) for v in await vsvc.recent(sessions, limit, offset)]


@router.get("/tickets-clearance")
async def clearance(
    who: DispatcherUser,
    sessions: SessionsDep,
    month: Annotated[str, Query(pattern=r"^(19|20)\d{2}-(0[1-9]|1[0-2])$")],
) -> list[st.ClearanceOut]:
    """清零: per unit, tickets accepted before the end of the month that are still open."""
    year, mon = (int(x) for x in month.split("-"))
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=UTC)
    return [st.ClearanceOut(**r.__dict__) for r in await svc.clearance(sessions, end)]


@router.get("/tickets-stats", responses={422: {}})
async def stats(
    who: DispatcherUser,
    sessions: ReadSessionsDep,
    since: datetime,
    until: datetime,
    by: Annotated[list[str], Query(max_length=3)] = ["channel"],  # noqa: B006
) -> list[sis.StatRowOut]:
    """Tickets accepted in [since, until) per channel (or category, status, request_type, and
    combinations), with 直接答复 and 直接答复率."""
    rows = await svc.stats(sessions, since, until, by)
    return [
        sis.StatRowOut(
            group=r.group,
            label=" / ".join(
                channels.label(v) if d == "channel" else v for d, v in r.group.items()
            ),
            total=r.total,
            direct_answers=r.direct_answers,
            kb_answers=r.kb_answers,
            direct_answer_rate=round(r.direct_answer_rate, 4),
        )
        for r in rows
    ]


@router.get("/public/tickets/{number}", responses={404: {}, 422: {}, 429: {}})
async def lookup(
    number: str,
    last4: Annotated[str, Query()],
    request: Request,
    sessions: SessionsDep,
    deps: Deps,
) -> st.PublicTicketOut:
    """Citizen status lookup: the ticket number and the phone's last four digits; no login."""
    client = request.client.host if request.client else "unknown"
    key = keys.api_lookup_budget(client)
    pipe = deps.redis.pipeline(transaction=True)
    pipe.set(
        key, 0, ex=60, nx=True
    )  # the minute starts at the first lookup (Redis 6: no EXPIRE NX)
    pipe.incr(key)
    _, used = await pipe.execute()
    if int(used) > LOOKUPS_PER_MINUTE:
        raise RateLimited("查询过于频繁，请一分钟后再试", 60)
    async with sessions() as session:
        found = await public.lookup(session, number, last4)
    if found is None:
        raise NotFound("没有找到该工单，请核对工单编号和手机号后四位")
    return st.PublicTicketOut(**found.__dict__)
