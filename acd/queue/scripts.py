"""Every Lua script of the ACD, registered here and nowhere else: loaded once per client
(EVALSHA, re-sent if the server forgot them)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

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


@cache
def source(name: str) -> str:
    return (_DIR / f"{name}.lua").read_text(encoding="utf-8")


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
