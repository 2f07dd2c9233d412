"""`hotline serve`: the API and one AMI controller per city, in one process or split up."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from api.app import AppDeps, create_app
from hotline.db import make_engine
from hotline.redis import redis_client
from hotline.settings import Settings

log = logging.getLogger(__name__)


async def serve(
    settings: Settings, host: str, port: int, api: bool, controllers: list[str]
) -> None:
    engine = make_engine(settings.resolved_database_url)
    try:
        async with redis_client(settings) as redis:
            tasks: list[asyncio.Task[None]] = []
            if api:
                deps = AppDeps(
                    redis=redis, engine=engine, cities=tuple(c.name for c in settings.cities)
                )
                config = uvicorn.Config(create_app(deps), host=host, port=port, log_level="info")
                server = uvicorn.Server(config)
                tasks.append(asyncio.create_task(server.serve(), name="api"))
                log.info("API on http://%s:%d (health: /health)", host, port)
            for city in controllers:
                log.info(
                    "controller for %s: not started, the AMI controller is not built yet", city
                )
            if tasks:
                await asyncio.gather(*tasks)
    finally:
        await engine.dispose()
