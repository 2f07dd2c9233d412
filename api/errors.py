"""Every error → HTTP status mapping of the API, in one place.

Domain packages raise their own errors (store.errors and subclasses, tickets' TicketError,
acd.commands' CommandError); routes never build HTTP errors themselves.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from acd.commands.stream import CommandError
from api.auth import Forbidden, TooManyAttempts, Unauthenticated
from api.sse import TooManyStreams
from intake.batch import BatchError
from intake.guard import CodeRefused, TooMany
from intake.service import IntakeError
from knowledge.service import KbConflict, KbNotFound, KnowledgeError
from store.errors import Conflict, DomainError, InvalidState, NotFound
from store.errors import Invalid as Invalid  # re-exported: routes raise api.errors.Invalid
from store.outbox import is_outage
from tickets.attachments import AttachmentNotFound, AttachmentTooLarge
from tickets.lifecycle import BadArgument, LifecycleError, WrongRole, WrongState
from tickets.lookup import LookupRefused
from tickets.loop import TicketNotFound
from tickets.service import TicketError
from tickets.stats import UnknownDimension


class RateLimited(Exception):
    """Too many requests of one kind from one client (429)."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ControllerTimeout(DomainError):
    """The city's controller did not answer in time (504); it may still act."""


class ControllerRefused(DomainError):
    """The city's controller answered that it could not do it now (409)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code  # a stable code for clients, when the controller gave one


class ControllerNotFound(ControllerRefused):
    """The controller does not know the call, seat, department or task (404)."""


class ControllerInvalid(ControllerRefused):
    """The controller found the request itself wrong (422)."""


class ControllerFailed(ControllerRefused):
    """The controller tried and the PBX failed it (502)."""


_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidState, 409),
    (ControllerNotFound, 404),
    (ControllerInvalid, 422),
    (ControllerFailed, 502),
    (ControllerRefused, 409),
    (Invalid, 422),
    (TicketError, 422),
    (TicketNotFound, 404),
    (AttachmentNotFound, 404),
    (AttachmentTooLarge, 413),
    (WrongRole, 403),
    (WrongState, 409),
    (BadArgument, 422),
    (LookupRefused, 422),
    (LifecycleError, 422),
    (RateLimited, 429),
    (CommandError, 422),
    (TooManyAttempts, 429),
    (TooManyStreams, 429),
    (ControllerTimeout, 504),
    (TooMany, 429),
    (IntakeError, 422),
    (CodeRefused, 422),
    (BatchError, 422),
    (UnknownDimension, 422),
    (KbNotFound, 404),
    (KbConflict, 409),
    (KnowledgeError, 422),
)


def status_of(exc: Exception) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


async def _handle(_request: Request, exc: Exception) -> JSONResponse:
    status = status_of(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyAttempts | RateLimited | TooMany):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, TooManyStreams):
        headers["Retry-After"] = "15"
    body = {"detail": str(exc)}
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        body["code"] = code
    return JSONResponse(body, status_code=status, headers=headers)


# A store that does not answer (restarting, failing over, a read replica down) is a 503 the
# pages can say something useful about and a load balancer can retry, not a bare 500.
_UNAVAILABLE_RETRY_S = "5"


async def _database_down(_request: Request, exc: Exception) -> JSONResponse:
    if not is_outage(exc):
        raise exc  # a refused statement is a bug: the 500 and its traceback stay
    body = {"detail": "数据库暂时无法访问，请稍后重试", "code": "database_unavailable"}
    return JSONResponse(body, status_code=503, headers={"Retry-After": _UNAVAILABLE_RETRY_S})


async def _live_state_down(_request: Request, _exc: Exception) -> JSONResponse:
    body = {"detail": "实时状态服务暂时无法访问，请稍后重试", "code": "live_state_unavailable"}
    return JSONResponse(body, status_code=503, headers={"Retry-After": _UNAVAILABLE_RETRY_S})


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    """Where and why a request is wrong, never what was sent: a password typed into the
    wrong field, or megabytes of it, must not come back in the answer (or in a proxy's log)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type", "")}
        for e in errors
    ]
    return JSONResponse({"detail": detail}, status_code=422)


class _NoNul:
    """Refuse a NUL byte anywhere in the path or query (PostgreSQL cannot store one in text,
    and no staff input has one): a clear 422 instead of a database error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope["path"].encode()
            if b"\x00" in scope["path"].encode() or b"%00" in raw + scope.get("query_string", b""):
                response = JSONResponse({"detail": "NUL character in the URL"}, status_code=422)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_middleware(_NoNul)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    for cls, _status in _STATUS:
        app.add_exception_handler(cls, _handle)
    app.add_exception_handler(DomainError, _handle)  # any other domain refusal: 500 + message
    # asyncpg raises a refused connection as the OSError itself, not wrapped by SQLAlchemy
    for db_cls in (SQLAlchemyError, ConnectionRefusedError, ConnectionResetError):
        app.add_exception_handler(db_cls, _database_down)
    for redis_cls in (RedisConnectionError, RedisTimeoutError):
        app.add_exception_handler(redis_cls, _live_state_down)
