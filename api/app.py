"""The ASGI application. Connections are handed in by the composition root (hotline)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from store.health import ami_link_states, database_check, redis_check


@dataclass(frozen=True)
class AppDeps:
    """What the API needs from the process that runs it; nothing here is API-owned state."""

    redis: Redis
    engine: AsyncEngine
    cities: tuple[str, ...]


def deps(request: Request) -> AppDeps:
    value: AppDeps = request.app.state.deps
    return value


def create_app(app_deps: AppDeps) -> FastAPI:
    app = FastAPI(title="12345 hotline", version="0.1.0")
    app.state.deps = app_deps

    @app.get("/health", tags=["ops"])
    async def health(request: Request) -> JSONResponse:
        d = deps(request)
        redis_state = await redis_check(d.redis)
        db_state = await database_check(d.engine)
        links = await ami_link_states(d.redis, list(d.cities)) if redis_state.ok else {}
        ok = redis_state.ok and db_state.ok
        body = {
            "status": "ok" if ok else "degraded",
            "redis": {"ok": redis_state.ok, "detail": redis_state.detail},
            "database": {"ok": db_state.ok, "detail": db_state.detail},
            "ami": links,
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    return app
