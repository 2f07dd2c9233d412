"""`hotline serve`: the API and one AMI controller per city, in one process or split up."""

from __future__ import annotations

import asyncio
import logging

import uvicorn
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import AppDeps, create_app
from hotline.controller import run_controller
from hotline.db import make_engine, session_factory
from hotline.redis import redis_client
from hotline.settings import Settings

log = logging.getLogger(__name__)


async def serve_api(
    settings: Settings, redis: Redis, engine: AsyncEngine, host: str, port: int
) -> None:
    deps = AppDeps(
        redis=redis,
        engine=engine,
        cities=tuple(c.name for c in settings.cities),
        city_labels={c.name: c.label or c.name for c in settings.cities},
        partners={c.name: tuple(c.partners) for c in settings.cities},
    )
    # No lifespan handlers: the connections are owned by this process, not by the app.
    config = uvicorn.Config(
        create_app(deps), host=host, port=port, log_level="warning", lifespan="off"
    )
    log.info("API on http://%s:%d (health: /health)", host, port)
    await uvicorn.Server(config).serve()


async def serve(
    settings: Settings, host: str, port: int, api: bool, controllers: list[str]
) -> None:
    engine = make_engine(settings.resolved_database_url)
    try:
        async with redis_client(settings) as redis:
            tasks: list[asyncio.Task[None]] = []
            if api:
                tasks.append(
                    asyncio.create_task(serve_api(settings, redis, engine, host, port), name="api")
                )
            for name in controllers:
                city = settings.city(name)
                tasks.append(
                    asyncio.create_task(
                        run_controller(city, settings, redis, session_factory(engine)),
                        name=f"ami-{name}",
                    )
                )
            if not tasks:
                return
            try:
                # The API stopping (Ctrl-C) or any controller failing ends the process.
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await engine.dispose()
