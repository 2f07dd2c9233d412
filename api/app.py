"""The ASGI application. Connections are handed in by the composition root (hotline)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api import errors
from api.auth import bearer_token, resolve_token
from api.deps import AppDeps, get_deps
from api.hardening import BodyLimit, SecurityHeaders
from api.metrics import scrape
from api.routes import (
    admin,
    auth,
    dispatcher,
    intake,
    knowledge,
    qa,
    qa_work,
    recordings,
    reports,
    seat,
    seat_qa,
    ticket_attachments,
    tickets,
)
from reports.document import ASSETS as REPORT_ASSETS
from store.health import ami_link_states, database_check, redis_check

__all__ = ["AppDeps", "create_app", "deps"]

STATIC = Path(__file__).resolve().parent / "static"

PAGES = {
    "wallboard": "wallboard.html",
    "seat": "seat.html",
    "qa": "qa.html",
    "tickets": "tickets.html",
    "visits": "visits.html",
    "lookup": "lookup.html",
    "intake": "intake.html",
    "reports": "reports.html",
    "knowledge": "knowledge.html",
}


def deps(request: Request) -> AppDeps:
    return get_deps(request)


def create_app(app_deps: AppDeps) -> FastAPI:
    # Production publishes no map of the API; the schema is still built for tests and tools.
    docs = {} if not app_deps.production else {"docs_url": None, "redoc_url": None}
    app = FastAPI(
        title="12345 hotline",
        version="0.1.0",
        openapi_url=None if app_deps.production else "/openapi.json",
        **docs,  # type: ignore[arg-type]
    )
    app.state.deps = app_deps
    app.state.sessions = app_deps.session_factory()
    errors.install(app)
    # Added last: outermost, so even a refused or failed request carries the headers.
    app.add_middleware(BodyLimit, max_bytes=app_deps.max_body_bytes, larger=app_deps.body_caps())
    app.add_middleware(SecurityHeaders)
    for module in (
        auth,
        seat,
        seat_qa,
        dispatcher,
        qa,
        qa_work,
        recordings,
        admin,
        tickets,
        ticket_attachments,
        reports,
        intake,
        knowledge,
    ):
        app.include_router(module.router)
    # The report renderer's scripts (ECharts vendored) belong to the reports package: one copy
    # serves the page and the documents. Mounted before /static, which would shadow it.
    app.mount("/static/reports", StaticFiles(directory=REPORT_ASSETS), name="report-assets")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/health", tags=["ops"])
    async def health(request: Request) -> JSONResponse:
        """ok or degraded (503) for anyone (load balancers); the stores' and AMI links'
        details (hosts, errors) only with a valid staff token."""
        d = deps(request)
        redis_state = await redis_check(d.redis)
        db_state = await database_check(d.engine)
        ok = redis_state.ok and db_state.ok
        body: dict[str, object] = {"status": "ok" if ok else "degraded"}
        token = bearer_token(request)
        if redis_state.ok and token and await resolve_token(d.redis, token) is not None:
            body |= {
                "redis": {"ok": redis_state.ok, "detail": redis_state.detail},
                "database": {"ok": db_state.ok, "detail": db_state.detail},
                "ami": await ami_link_states(d.redis, list(d.cities)),
            }
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def metrics(request: Request) -> Response:
        """Prometheus text format."""
        d = deps(request)
        body = await scrape(d.redis, d.cities)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)  # browsers ask on every page; no icon, no 404 noise

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
