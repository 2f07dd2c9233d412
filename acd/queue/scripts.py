"""Every Lua script of the ACD, registered here and nowhere else: loaded once per client
(EVALSHA, re-sent if the server forgot them)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript

from store import keys

_DIR = Path(__file__).parent / "lua"
NAMES = (
    "route",
    "release",
    "answered",
    "ended",
    "seat_state",
    "wrapups",
    "fallback",
    "callback_claim",
)


# On Redis Cluster (Redis 7+) a script with a shebang may touch only keys of one hash slot: a
# key that left the {acd} tag fails at once, instead of working by chance while its slot
# happens to sit on the same node. The embedded Redis is 6.2, which knows no shebang.
_CLUSTER_STRICT = "#!lua\n"

# Which argument carries the key prefix, per script (the scripts' own header comments say so).
PREFIX_ARG = {
    "route": 3,
    "release": 2,
    "answered": 3,
    "ended": 3,
    "seat_state": 5,
    "wrapups": 2,
    "fallback": 4,
    "callback_claim": 3,
}


def lua_keys(prefix_arg: int) -> str:
    """Lua functions naming the ACD's keys, made from store.keys.ACD_KEYS like the Python
    ones (key_ready(city, skill) == keys.acd_ready(city, skill)); the prefix is an argument."""
    lines = [f"local pfx = ARGV[{prefix_arg}]"]
    for kind, parts in keys.ACD_KEYS.items():
        body = " .. ':' .. ".join([f"'{kind}'", *parts])
        lines.append(f"local function key_{kind}({', '.join(parts)}) return pfx .. {body} end")
    return "\n".join(lines) + "\n"


@cache
def source(name: str) -> str:
    """The script as Redis runs it: the key functions, then the file."""
    return lua_keys(PREFIX_ARG[name]) + (_DIR / f"{name}.lua").read_text(encoding="utf-8")


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
        self.callback_claim = register(redis, "callback_claim")
