"""Log in (rate-limited per username), log out, who am I."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request

from api import auth
from api.deps import Deps, SessionsDep
from api.schemas import LoginIn, Me, Ok, Session
from api.services import users

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/login", responses={401: {}, 429: {}})
async def login(body: LoginIn, deps: Deps, sessions: SessionsDep) -> Session:
    await auth.check_login_allowed(deps.redis, body.username, deps.login_failures)
    user = await users.by_username(sessions, body.username)
    good = auth.verify_password(user.password_hash if user else None, body.password)
    if user is None or not good or not user.active:
        await auth.login_failed(deps.redis, body.username, deps.login_window_s)
        log.info("api: failed login for %r", body.username)
        raise auth.Unauthenticated("wrong username or password")
    await auth.login_succeeded(deps.redis, body.username)
    who = auth.Principal(user.id, user.username, user.role, user.seat_id)
    token = await auth.issue_token(deps.redis, who, deps.token_ttl_s)
    return Session(
        token=token,
        username=user.username,
        role=user.role,
        seat_id=user.seat_id,
        expires_in_s=deps.token_ttl_s,
    )


@router.post("/logout")
async def logout(request: Request, who: auth.CurrentUser, deps: Deps) -> Ok:
    token = auth.bearer_token(request)
    if token:
        await auth.revoke_token(deps.redis, token)
    return Ok(detail=f"{who.username} logged out")


@router.get("/me")
async def me(who: auth.CurrentUser) -> Me:
    return Me(user_id=who.user_id, username=who.username, role=who.role, seat_id=who.seat_id)
