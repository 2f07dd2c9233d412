"""The Lua scripts, loaded once per client (EVALSHA, re-sent if the server forgot them)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript

_DIR = Path(__file__).parent / "lua"
NAMES = ("route", "release", "answered", "ended", "seat_state", "wrapups", "fallback")
# On Redis Cluster (Redis 7+) a script with a shebang may touch only keys of one hash slot: a
# key that left the {acd} tag fails at once, instead of working by chance while its slot
# happens to sit on the same node. The embedded Redis is 6.2, which knows no shebang.
_CLUSTER_STRICT = "#!lua\n"


@cache
def source(name: str) -> str:
    return (_DIR / f"{name}.lua").read_text(encoding="utf-8")


def register(redis: Redis, name: str) -> AsyncScript:
    text = source(name)
    if isinstance(redis, RedisCluster):
        text = _CLUSTER_STRICT + text
    return redis.register_script(text)


class Scripts:
    def __init__(self, redis: Redis) -> None:
        self.route = register(redis, "route")
        self.release = register(redis, "release")
        self.answered = register(redis, "answered")
        self.ended = register(redis, "ended")
        self.seat_state = register(redis, "seat_state")
        self.wrapups = register(redis, "wrapups")
        self.fallback = register(redis, "fallback")
