"""Every Lua script of the ACD, registered here and nowhere else: loaded once per client
(EVALSHA, re-sent if the server forgot them)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from redis.asyncio import Redis
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


class Scripts:
    def __init__(self, redis: Redis) -> None:
        self.route: AsyncScript = redis.register_script(source("route"))
        self.release: AsyncScript = redis.register_script(source("release"))
        self.answered: AsyncScript = redis.register_script(source("answered"))
        self.ended: AsyncScript = redis.register_script(source("ended"))
        self.seat_state: AsyncScript = redis.register_script(source("seat_state"))
        self.wrapups: AsyncScript = redis.register_script(source("wrapups"))
        self.fallback: AsyncScript = redis.register_script(source("fallback"))
        self.callback_claim: AsyncScript = redis.register_script(source("callback_claim"))
