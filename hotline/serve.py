"""`hotline serve`: the API and one AMI controller per city, in one process or split up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator

import uvicorn
from redis.asyncio import ConnectionPool, Redis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import AppDeps, create_app
from api.demo_guard import accounts_with_demo_password
from api.services.knowledge import warm as warm_knowledge
from hotline.db import make_engine, session_factory
from hotline.redis import redis_client
from hotline.settings import ConfigError, Env, Settings
from hotline.standby import run_controller
from store.redis_retry import outage_retry
from tickets.workdays import WorkCalendar

log = logging.getLogger(__name__)


async def serve_api(
    settings: Settings, redis: Redis, engine: AsyncEngine, host: str, port: int
) -> None:
    # Reports and statistics read from the replica where one is configured.
    replica = make_engine(settings.database_read_url) if settings.database_read_url else None
    deps = AppDeps(
        redis=redis,
        engine=engine,
        read_sessions=session_factory(replica) if replica is not None else None,
        cities=tuple(c.name for c in settings.cities),
        city_labels={c.name: c.label or c.name for c in settings.cities},
        partners={c.name: tuple(c.partners) for c in settings.cities},
        calendar=WorkCalendar.from_file(settings.holidays_file),
        production=settings.env is Env.production,
        streams_per_user=settings.api.streams_per_user,
        max_body_bytes=settings.api.max_body_kb * 1024,
        recordings_dir=settings.resolved_recordings_dir,
        reports_dir=settings.data_dir / "reports",
        city_timezone=settings.cities[0].timezone if settings.cities else "Asia/Shanghai",
        intake_dir=settings.data_dir,  # photos go to <data dir>/intake/<day>/
        intake_gateway_token=settings.api.intake_gateway_token or None,
        attachments_dir=settings.data_dir,  # 办结 attachments go to <data dir>/tickets/<day>/
        attachment_limits=settings.attachments.limits(),
    )
    await warm_knowledge()
    # No lifespan handlers: the connections are owned by this process, not by the app.
    config = uvicorn.Config(
        create_app(deps), host=host, port=port, log_level="warning", lifespan="off"
    )
    try:
        await _Server(config).serve()
    finally:
        if replica is not None:
            await replica.dispose()


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's, without raising the caught signal again once serving has ended: for
        SIGTERM that is the default action, which killed the process before its embedded
        Redis lease and database were closed. Here the API ending ends the process anyway."""
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:  # after the bind: the port is the real one (0 picks a free one)
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            production = self.config.app.state.deps.production  # type: ignore[union-attr]
            for line in where(self.config.host or host, port, production):
                log.info("%s", line)


def where(host: str, port: int, production: bool = False) -> list[str]:
    """What the log says once the API listens: the pages and the operator's endpoints."""
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
    return [
        f"API on {base}" + ("" if production else f" (OpenAPI: {base}/docs)"),
        f"pages: wallboard {base}/wallboard, seat {base}/seat, QA {base}/qa",
        f"health: {base}/health, metrics: {base}/metrics",
    ]


def own_pool(redis: Redis) -> Redis:
    """A client on the same server with a connection pool of its own: the controllers' Redis
    work (routing, callbacks, statistics ticks) never waits behind connections the API's
    live streams hold, and waits out a Redis restart (``outage_retry``)."""
    pool = redis.connection_pool
    kwargs = {**pool.connection_kwargs, "retry": outage_retry()}
    # from_pool: the client owns the pool, so its aclose() closes the connections too.
    return Redis.from_pool(ConnectionPool(connection_class=pool.connection_class, **kwargs))


async def refuse_demo_passwords(settings: Settings, engine: AsyncEngine) -> None:
    """Production with accounts that still have a published demo password does not start."""
    if settings.env is not Env.production:
        return
    try:
        found = await accounts_with_demo_password(session_factory(engine))
    except SQLAlchemyError as exc:
        raise ConfigError(
            f"production: cannot read the staff accounts ({type(exc).__name__}); "
            "run `hotline db upgrade` first"
        ) from None
    if found:
        raise ConfigError(
            f"production refuses to start: account(s) {', '.join(found)} still have the demo "
            "password; set new ones (PATCH /api/admin/users/<id> in development, or recreate)"
        )


async def serve(
    settings: Settings, host: str, port: int, api: bool, controllers: list[str]
) -> None:
    engine = make_engine(settings.resolved_database_url)
    try:
        if api:
            await refuse_demo_passwords(settings, engine)
        async with redis_client(settings) as redis:
            controller_redis = own_pool(redis)
            tasks: list[asyncio.Task[None]] = []
            if api:
                tasks.append(
                    asyncio.create_task(serve_api(settings, redis, engine, host, port), name="api")
                )
            for name in controllers:
                city = settings.city(name)
                tasks.append(
                    asyncio.create_task(
                        run_controller(city, settings, controller_redis, session_factory(engine)),
                        name=f"ami-{name}",
                    )
                )
            if not tasks:
                return
            stop = asyncio.Event()
            if not api:
                # With the API, uvicorn takes SIGTERM and SIGINT and its task ends; without it,
                # a service manager's SIGTERM must end the controllers the same way (their
                # recordings still to index are noted in Redis and resumed on the next start).
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, stop.set)
            stopped = asyncio.create_task(stop.wait(), name="signal")
            try:
                # The API stopping (Ctrl-C), a signal or any controller failing ends the process.
                done, _ = await asyncio.wait([*tasks, stopped], return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task is stopped:
                        log.info("stopping: %s", ", ".join(t.get_name() for t in tasks))
                    else:
                        task.result()
            finally:
                stopped.cancel()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(stopped, *tasks, return_exceptions=True)
                await controller_redis.aclose()
    finally:
        await engine.dispose()
