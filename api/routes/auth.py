"""Log in (rate-limited per account and client address), log out, who am I."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request

from api import auth
from api.demo_guard import REFUSED, is_demo_password
from api.deps import Deps, SessionsDep
from api.schemas import LoginIn, Me, Ok, Session
from api.services import users

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/login", responses={401: {}, 403: {}, 429: {}})
async def login(body: LoginIn, request: Request, deps: Deps, sessions: SessionsDep) -> Session:
    ip = auth.client_ip(request)
    limits = auth.LoginLimits(deps.login_failures, deps.login_ip_failures, deps.login_window_s)
    await auth.check_login_allowed(deps.redis, body.username, ip, limits)
    user = await users.by_username(sessions, body.username)
    good = await auth.verify_password_async(user.password_hash if user else None, body.password)
    if user is None or not good or not user.active:
        await auth.login_failed(deps.redis, body.username, ip, deps.login_window_s)
        # %r: a username with CR/LF cannot forge a log line.
        log.info("api: failed login for %r from %s", body.username[:64], ip)
        raise auth.Unauthenticated("wrong username or password")
    if deps.production and is_demo_password(body.password):
        log.warning("api: %r logged in with a demo password in production: refused", user.username)
        raise auth.Forbidden(REFUSED)
    await auth.login_succeeded(deps.redis, body.username, ip)
    who = auth.Principal(user.id, user.username, user.role, user.seat_id, tuple(user.cities or ()))
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
