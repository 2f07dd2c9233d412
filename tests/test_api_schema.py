"""schemathesis against the app's own OpenAPI schema: generated requests (valid and invalid)
to every operation, through a real uvicorn on real Redis and a real database; no 5xx."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from redis.asyncio import Redis
from schemathesis import openapi
from schemathesis.generation import GenerationMode

from api.app import create_app
from api.auth import Principal, issue_token
from hotline.db import make_engine, session_factory
from tests.api_support import add_staff, backend, make_deps, once, served  # noqa: F401

SKIP = {
    ("GET", "/api/seat/events"),  # streams never end; tests/test_api_streams.py reads them
    ("GET", "/api/dispatcher/stream"),
    ("POST", "/api/auth/logout"),  # would end the session the rest of the run uses
}
LAST = {("PATCH", "/api/admin/users/{user_id}"), ("DELETE", "/api/admin/users/{user_id}")}
EXAMPLES = 3


@dataclass
class Server:
    base: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    openapi: dict = field(default_factory=dict)
    ready: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


def _run(server: Server, redis_url: str, database_url: str) -> None:
    """The API in its own thread and event loop, like another process."""

    async def main() -> None:
        redis: Redis = Redis.from_url(redis_url, decode_responses=True)
        engine = make_engine(database_url)
        try:
            await redis.flushdb()
            sessions = session_factory(engine)
            await add_staff(sessions)
            app = create_app(make_deps(redis, engine, command_timeout_s=0.2, sessions=sessions))
            server.openapi = app.openapi()
            for role, seat in (("admin", None), ("seat", "1001")):
                who = Principal(1 if role == "admin" else 4, role, role, seat)
                server.tokens[role] = await issue_token(redis, who, 3600)
            async with served(app) as base:
                server.base = base
                server.ready.set()
                while not server.stop.is_set():
                    await asyncio.sleep(0.05)
        finally:
            await redis.flushdb()
            await redis.aclose()
            await engine.dispose()

    try:
        asyncio.run(main())
    except BaseException as exc:
        server.error = exc
        server.ready.set()


@pytest.fixture
def api_server(once: None, backend: tuple[str, str]) -> Iterator[Server]:
    redis_url, database_url = backend
    server = Server()
    thread = threading.Thread(target=_run, args=(server, redis_url, database_url), daemon=True)
    thread.start()
    server.ready.wait(60)
    if server.error is not None:
        raise server.error
    yield server
    server.stop.set()
    thread.join(30)


def fuzz(op, mode: GenerationMode, base: str, http: requests.Session, auth: dict[str, str]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run: a failure is reproducible
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode))
    def check(case) -> None:
        resp = case.call(base_url=base, session=http, headers=auth, timeout=10)
        assert resp.status_code < 500, (
            f"{case.method} {case.formatted_path} {case.query} {case.body!r} -> "
            f"{resp.status_code} {resp.text[:300]}"
        )

    check()


@pytest.mark.slow
def test_no_server_error_on_any_generated_request(api_server: Server) -> None:
    schema = openapi.from_dict(api_server.openapi)
    operations = [r.ok() for r in schema.get_all_operations()]
    operations.sort(key=lambda op: (op.method.upper(), op.path) in LAST)
    checked = 0
    http = requests.Session()
    for op in operations:
        key = (op.method.upper(), op.path)
        if key in SKIP:
            continue
        role = "seat" if op.path.startswith("/api/seat/") else "admin"
        auth = {"Authorization": f"Bearer {api_server.tokens[role]}"}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(op, mode, api_server.base, http, auth)
            except Unsatisfiable:
                # Nothing of this operation can be made invalid (no parameters, no body).
                assert mode is GenerationMode.NEGATIVE, key
        checked += 1
    assert checked >= 50  # every operation but the streams and logout
