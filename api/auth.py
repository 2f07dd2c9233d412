"""Passwords (argon2id), opaque session tokens in Redis, and the role check every route uses.

Tokens are random; Redis keeps only their SHA-256 with the user's id, role and seat, and
expires them, so any API process can check any token and a stolen Redis dump holds no token.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from redis.asyncio import Redis

from api.deps import Deps
from store import keys

_hasher = PasswordHasher()
# Verifying against this keeps an unknown username as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-password")


class Unauthenticated(Exception):
    """No token, or one that is unknown or expired (401)."""


class Forbidden(Exception):
    """Authenticated, but this role or this user may not do that (403)."""


class TooManyAttempts(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__("too many failed logins; try again later")
        self.retry_after_s = retry_after_s


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: str
    seat_id: str | None


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
    return Principal(int(raw["user_id"]), raw["username"], raw["role"], raw["seat_id"] or None)


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


async def check_login_allowed(redis: Redis, username: str, limit: int) -> None:
    key = keys.login_attempts(username.lower())
    failures = await _r(redis).get(key)
    if failures is not None and int(failures) >= limit:
        ttl = int(await _r(redis).ttl(key))
        raise TooManyAttempts(max(ttl, 1))


async def login_failed(redis: Redis, username: str, window_s: int) -> None:
    key = keys.login_attempts(username.lower())
    pipe = _r(redis).pipeline(transaction=True)
    # The window starts at the first failure; INCR keeps the TTL that SET NX gave the key.
    pipe.set(key, 0, ex=window_s, nx=True)
    pipe.incr(key)
    await pipe.execute()


async def login_succeeded(redis: Redis, username: str) -> None:
    await _r(redis).delete(keys.login_attempts(username.lower()))


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    # EventSource and <audio> cannot send headers: streams and audio take ?token= as well.
    return request.query_params.get("token") or None


async def current_principal(request: Request, deps: Deps) -> Principal:
    token = bearer_token(request)
    if not token:
        raise Unauthenticated("not logged in")
    who = await resolve_token(deps.redis, token)
    if who is None:
        raise Unauthenticated("session expired or unknown; log in again")
    return who


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets only these roles through (admin is never implied)."""

    async def check(who: CurrentUser) -> Principal:
        if who.role not in roles:
            raise Forbidden(f"role {who.role} may not do this (needs {' or '.join(roles)})")
        return who

    return check


SeatUser = Annotated[Principal, Depends(require("seat"))]
DispatcherUser = Annotated[Principal, Depends(require("dispatcher", "admin"))]
QaUser = Annotated[Principal, Depends(require("qa", "qa_lead", "admin"))]
# Samples and assigns calls, resolves appeals.
QaLeadUser = Annotated[Principal, Depends(require("qa_lead", "admin"))]
AdminUser = Annotated[Principal, Depends(require("admin"))]
