"""Passwords (argon2id), opaque session tokens in Redis, and the role check every route uses.

Tokens are random; Redis keeps only their SHA-256 with the user's id, role and seat, and
expires them, so any API process can check any token and a stolen Redis dump holds no token.
Session tokens travel in the Authorization header; only the live streams take them as
``?token=`` (EventSource cannot send headers), and ``<audio src>`` takes a 5-minute token
bound to one recording and one user instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from redis.asyncio import Redis

from api.deps import AppDeps, Deps
from store import keys

_hasher = PasswordHasher()
# Verifying against this keeps an unknown username as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-password")


class Unauthenticated(Exception):
    """No token, or one that is unknown or expired (401)."""


class Forbidden(Exception):
    """Authenticated, but this role or this user may not do that (403)."""


class TooManyAttempts(Exception):
    def __init__(self, retry_after_s: int, message: str = "登录失败次数过多，请稍后再试") -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


# argon2 costs tens of milliseconds of CPU by design: on the event loop the controllers
# share, a burst of logins would stall every request. It runs in worker threads, at most
# _VERIFY_AT_ONCE at a time; beyond _VERIFY_QUEUE waiting, a login is refused at once.
_VERIFY_AT_ONCE = 4
_VERIFY_QUEUE = 32
_verifying: asyncio.Semaphore | None = None
_waiting = 0


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    global _verifying, _waiting
    if _verifying is None:
        _verifying = asyncio.Semaphore(_VERIFY_AT_ONCE)
    if _waiting >= _VERIFY_QUEUE:
        raise TooManyAttempts(5, "登录请求过多，系统繁忙，请稍后再试")
    _waiting += 1
    try:
        async with _verifying:
            return await asyncio.to_thread(verify_password, password_hash, password)
    finally:
        _waiting -= 1


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: str
    seat_id: str | None
    # The cities a dispatcher may act on; empty: every city (see may_act_on).
    cities: tuple[str, ...] = ()


def _r(redis: Redis) -> Any:
    return redis  # redis-py's async stubs are unions of every reply shape


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(redis: Redis, who: Principal, ttl_s: int) -> str:
    token = secrets.token_urlsafe(32)
    digest = _digest(token)
    pipe = _r(redis).pipeline(transaction=True)
    pipe.hset(
        keys.api_token(digest),
        mapping={
            "user_id": who.user_id,
            "username": who.username,
            "role": who.role,
            "seat_id": who.seat_id or "",
            "cities": ",".join(who.cities),
        },
    )
    pipe.expire(keys.api_token(digest), ttl_s)
    pipe.sadd(keys.api_user_tokens(who.user_id), digest)
    pipe.expire(keys.api_user_tokens(who.user_id), ttl_s)
    await pipe.execute()
    return token


async def resolve_token(redis: Redis, token: str) -> Principal | None:
    raw: dict[str, str] = await _r(redis).hgetall(keys.api_token(_digest(token)))
    if not raw:
        return None
    return _principal(raw)


def _principal(raw: dict[str, str]) -> Principal:
    cities = tuple(c for c in raw.get("cities", "").split(",") if c)
    return Principal(
        int(raw["user_id"]), raw["username"], raw["role"], raw["seat_id"] or None, cities
    )


async def revoke_token(redis: Redis, token: str) -> None:
    digest = _digest(token)
    raw = await _r(redis).hget(keys.api_token(digest), "user_id")
    pipe = _r(redis).pipeline(transaction=True)
    pipe.delete(keys.api_token(digest))
    if raw is not None:
        pipe.srem(keys.api_user_tokens(int(raw)), digest)
    await pipe.execute()


async def revoke_user(redis: Redis, user_id: int) -> None:
    """End every session of a user (disabled, role changed, password reset)."""
    digests = await _r(redis).smembers(keys.api_user_tokens(user_id))
    if digests:
        await _r(redis).delete(*[keys.api_token(d) for d in digests])
    await _r(redis).delete(keys.api_user_tokens(user_id))


@dataclass(frozen=True)
class LoginLimits:
    """Failed logins allowed per window: per account from one address (a stranger elsewhere
    cannot lock the real user out) and per address over every account (password spraying)."""

    per_account: int = 5
    per_ip: int = 20
    window_s: int = 300


async def check_login_allowed(redis: Redis, username: str, ip: str, limits: LoginLimits) -> None:
    for key, limit, message in (
        (keys.login_ip_failures(ip), limits.per_ip, "该地址登录失败次数过多，请稍后再试"),
        (keys.login_attempts(username.lower(), ip), limits.per_account, None),
    ):
        failures = await _r(redis).get(key)
        if failures is not None and int(failures) >= limit:
            ttl = int(await _r(redis).ttl(key))
            raise TooManyAttempts(max(ttl, 1), *([message] if message else []))


async def login_failed(redis: Redis, username: str, ip: str, window_s: int) -> None:
    pipe = _r(redis).pipeline(transaction=True)
    for key in (keys.login_attempts(username.lower(), ip), keys.login_ip_failures(ip)):
        # The window starts at the first failure; INCR keeps the TTL that SET NX gave the key.
        pipe.set(key, 0, ex=window_s, nx=True)
        pipe.incr(key)
    await pipe.execute()


async def login_succeeded(redis: Redis, username: str, ip: str) -> None:
    await _r(redis).delete(keys.login_attempts(username.lower(), ip))


def client_ip(request: Request) -> str:
    # The peer address: a forwarded header is not trusted (a client could write any).
    return request.client.host if request.client else "unknown"


def bearer_token(request: Request, *, query: bool = False) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if query:  # only where the browser cannot send a header (EventSource)
        return request.query_params.get("token") or None
    return None


async def _principal_of(token: str | None, deps: AppDeps) -> Principal:
    if not token:
        raise Unauthenticated("not logged in")
    who = await resolve_token(deps.redis, token)
    if who is None:
        raise Unauthenticated("session expired or unknown; log in again")
    return who


async def current_principal(request: Request, deps: Deps) -> Principal:
    return await _principal_of(bearer_token(request), deps)


async def stream_principal(request: Request, deps: Deps) -> Principal:
    """The Authorization header, or ``?token=`` for EventSource."""
    return await _principal_of(bearer_token(request, query=True), deps)


# --- one recording's audio ------------------------------------------------------------
RECORDING_TOKEN_TTL_S = 300


async def issue_recording_token(redis: Redis, who: Principal, recording_id: int) -> str:
    """A token that plays this one recording for this user for 5 minutes: what ``<audio src>``
    carries instead of the 12-hour session token (URLs end up in logs and history)."""
    token = secrets.token_urlsafe(24)
    key = keys.recording_token(_digest(token))
    pipe = _r(redis).pipeline(transaction=True)
    pipe.hset(
        key,
        mapping={
            "user_id": who.user_id,
            "username": who.username,
            "role": who.role,
            "seat_id": who.seat_id or "",
            "cities": ",".join(who.cities),
            "recording_id": recording_id,
        },
    )
    pipe.expire(key, RECORDING_TOKEN_TTL_S)
    await pipe.execute()
    return token


async def recording_principal(redis: Redis, token: str, recording_id: int) -> Principal | None:
    raw: dict[str, str] = await _r(redis).hgetall(keys.recording_token(_digest(token)))
    if not raw or raw.get("recording_id") != str(recording_id):
        return None
    who = _principal(raw)
    # The user may have been disabled or changed since: the token lives no longer than a session.
    if not await _r(redis).exists(keys.api_user_tokens(who.user_id)):
        return None
    return who


def may_act_on(who: Principal, city: str) -> bool:
    """The one city-scope rule: admins act on every city; a dispatcher on its cities, or on
    every city when it has none listed."""
    return who.role == "admin" or not who.cities or city in who.cities


def check_city(who: Principal, city: str) -> None:
    if not may_act_on(who, city):
        scope = "、".join(who.cities)
        raise Forbidden(f"用户 {who.username} 无权操作城市 {city}（可操作：{scope}）")


CurrentUser = Annotated[Principal, Depends(current_principal)]


StreamUser = Annotated[Principal, Depends(stream_principal)]


def require(*roles: str, stream: bool = False) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets only these roles through (admin is never implied); ``stream``:
    the route is a live stream, which takes the token as ``?token=`` too."""

    def allowed(who: Principal) -> Principal:
        if who.role not in roles:
            raise Forbidden(f"role {who.role} may not do this (needs {' or '.join(roles)})")
        return who

    if stream:

        async def check_stream(who: StreamUser) -> Principal:
            return allowed(who)

        return check_stream

    async def check(who: CurrentUser) -> Principal:
        return allowed(who)

    return check


SeatUser = Annotated[Principal, Depends(require("seat"))]
DispatcherUser = Annotated[Principal, Depends(require("dispatcher", "admin"))]
QaUser = Annotated[Principal, Depends(require("qa", "qa_lead", "admin"))]
# Samples and assigns calls, resolves appeals.
QaLeadUser = Annotated[Principal, Depends(require("qa_lead", "admin"))]
AdminUser = Annotated[Principal, Depends(require("admin"))]
SeatStreamUser = Annotated[Principal, Depends(require("seat", stream=True))]
DispatcherStreamUser = Annotated[Principal, Depends(require("dispatcher", "admin", stream=True))]
