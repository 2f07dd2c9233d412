"""The ASGI application. Connections are handed in by the composition root (hotline)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api import errors
from api.deps import AppDeps, get_deps
from api.metrics import scrape
from api.routes import admin, auth, dispatcher, qa, qa_work, recordings, seat, seat_qa
from store.health import ami_link_states, database_check, redis_check

__all__ = ["AppDeps", "create_app", "deps"]

STATIC = Path(__file__).resolve().parent / "static"
PAGES = {"wallboard": "wallboard.html", "seat": "seat.html", "qa": "qa.html"}


def deps(request: Request) -> AppDeps:
    return get_deps(request)


def create_app(app_deps: AppDeps) -> FastAPI:
    app = FastAPI(title="12345 hotline", version="0.1.0")
    app.state.deps = app_deps
    app.state.sessions = app_deps.session_factory()
    errors.install(app)
    for module in (auth, seat, seat_qa, dispatcher, qa, qa_work, recordings, admin):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

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

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def metrics(request: Request) -> Response:
        """Prometheus text format."""
        d = deps(request)
        body = await scrape(d.redis, d.cities)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/seat")

    def page(name: str) -> None:
        async def serve() -> FileResponse:
            return FileResponse(STATIC / PAGES[name], media_type="text/html; charset=utf-8")

        app.add_api_route(f"/{name}", serve, include_in_schema=False, methods=["GET"])

    for name in PAGES:
        page(name)
    return app
