"""Every door into the same tickets: the public intake (web form, WeChat and Alipay
mini-programs, the app) with its SMS code confirmation, the SMS gateway, and the 留言 imports
of other platforms. No login for the public routes: limits per address and phone instead."""

from __future__ import annotations

import hmac
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from api import schemas_intake as si
from api.auth import Forbidden, Principal, require
from api.deps import Deps, SessionsDep
from api.services import intake as svc
from intake.guard import masked
from intake.service import Submission
from tickets import channels
from tickets.models import Ticket

router = APIRouter(prefix="/api/intake", tags=["intake"])
ImportUser = Annotated[Principal, Depends(require("dispatcher", "admin"))]
PublicChannel = Literal["web", "wechat", "alipay", "app"]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _accepted(ticket: Ticket, duplicate: bool) -> JSONResponse:
    body = si.IntakeAccepted(
        ticket_number=ticket.number or "",
        channel=ticket.channel,
        status=ticket.status,
        category=ticket.category,
        due_at=ticket.due_at,
        duplicate=duplicate,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if duplicate else 201)


@router.post("/messages/{channel}", status_code=202, responses={413: {}, 422: {}, 429: {}})
async def submit(
    channel: PublicChannel, body: si.IntakeIn, request: Request, deps: Deps
) -> si.IntakeHeld:
    """A citizen's message: kept until the code sent to the phone comes back (confirm)."""
    await svc.guard_submission(deps, _client(request), body.phone)
    raw = svc.decode_photos(body.photos)
    sub = Submission(
        channel=channel,
        text=body.text,
        phone=body.phone,
        name=body.name,
        location=body.location,
        lat=body.lat,
        lon=body.lon,
        message_id=body.message_id,
    )
    sub.check()
    pending_id = await svc.hold(deps, sub, raw)
    return si.IntakeHeld(
        pending_id=pending_id,
        expires_in_s=deps.intake_limits.code_ttl_s,
        message=f"验证码已发送至 {masked(body.phone)}",
    )


@router.post("/confirm", responses={201: {}, 422: {}})
async def confirm(body: si.ConfirmIn, deps: Deps, sessions: SessionsDep) -> JSONResponse:
    """The code from the SMS: the held message becomes a 受理 ticket (201); the number to
    quote in the status lookup comes back."""
    ticket, duplicate = await svc.confirm(deps, sessions, body.pending_id, body.code)
    return _accepted(ticket, duplicate)


@router.post("/sms", responses={201: {}, 403: {}, 422: {}, 429: {}})
async def sms(
    body: si.SmsIn,
    deps: Deps,
    sessions: SessionsDep,
    x_gateway_token: Annotated[str, Header()] = "",
) -> JSONResponse:
    """A message delivered by the SMS gateway (its shared token in X-Gateway-Token); a
    delivery repeated with the same message id answers with the earlier ticket (200)."""
    expected = deps.intake_gateway_token
    if not expected or not hmac.compare_digest(x_gateway_token.encode(), expected.encode()):
        raise Forbidden("短信网关未配置或令牌不正确")
    await svc.guard_submission(deps, None, body.phone)
    sub = Submission(
        channel=channels.SMS, text=body.text, phone=body.phone, message_id=body.message_id
    )
    ticket, duplicate = await svc.submit(deps, sessions, sub)
    return _accepted(ticket, duplicate)


@router.post("/imports", responses={403: {}, 413: {}, 422: {}})
async def import_batch(
    who: ImportUser,
    request: Request,
    deps: Deps,
    sessions: SessionsDep,
    platform: Annotated[str, Query(pattern=r"^[a-z0-9_\-]{1,32}$")],
    format: Annotated[Literal["csv", "json", "xlsx"], Query()],
) -> si.ImportOut:
    """A batch of 留言 from another platform, the file as the body. Idempotent by the
    platform's message id; each bad row comes back with its line and reason."""
    report = await svc.import_batch(deps, sessions, platform, await request.body(), format)
    return si.ImportOut(
        created=report.created,
        duplicates=[
            si.DuplicateRowOut(line=line, message_id=mid, ticket_id=tid)
            for line, mid, tid in report.duplicates
        ],
        bad=[si.BadRowOut(line=b.line, reason=b.reason) for b in report.bad],
    )
