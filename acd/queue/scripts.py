"""Every Lua script of the ACD, registered here and nowhere else: loaded once per client
(EVALSHA, re-sent if the server forgot them).

Every script is fenced (docs/failover.md): its last two arguments are a city and the fencing
token of that city's controller lease (``store.lease``). A script run with a token that is not
the one the lease holds now refuses, before it reads or writes anything, counts the refusal
(``keys.acd_fenced``) and answers an error that becomes ``LeaseLost``. A city of '' means a
caller that holds no lease and needs none (the API's seat changes): no check.

The holder's own token is accepted also while its lease is missing from Redis, as long as the
counter shows no later token was handed out: a script sent before a Redis restart and run
after it (redis-py waits for the server) comes from the newest holder, and nobody else has
acted since; the holder takes the lease back with that same token (``Lease.keep``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import ResponseError

from store import keys
from store.lease import LeaseLost

# The caller's (city, fencing token); the scripts' last two arguments.
Fence = Callable[[], tuple[str, str]]
# Awaited before the fence is read: whether the lease is held, once a re-take in progress
# has its answer (``Lease.ready``).
FenceReady = Callable[[], Awaitable[bool]]
FENCED = "FENCED"
# Runs before each script's own text, after the key functions (it names the lease key).
_FENCE_CHECK = f"""local fence_city, fence_token = ARGV[#ARGV - 1], ARGV[#ARGV]
if fence_city ~= '' then
  local held = redis.call('GET', key_lease(fence_city))
  if held ~= fence_token and not (held == false
      and redis.call('GET', key_fence(fence_city)) == fence_token) then
    redis.call('INCR', key_fenced(fence_city))
    return redis.error_reply('{FENCED} ' .. fence_city .. ' token ' .. fence_token)
  end
end
"""

_DIR = Path(__file__).parent / "lua"
NAMES = (
    "enqueue",
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
    "enqueue": 2,
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
    """The script as Redis runs it: the key functions, the fence check, then the file."""
    body = (_DIR / f"{name}.lua").read_text(encoding="utf-8")
    return lua_keys(PREFIX_ARG[name]) + _FENCE_CHECK + body


def register(redis: Redis, name: str) -> AsyncScript:
    text = source(name)
    if isinstance(redis, RedisCluster):
        text = _CLUSTER_STRICT + text
    return redis.register_script(text)


def unfenced() -> tuple[str, str]:
    return "", ""


class FencedScript:
    """A registered script called with the caller's fence appended to its arguments."""

    def __init__(self, script: AsyncScript, fence: Fence, ready: FenceReady | None) -> None:
        self._script = script
        self._fence = fence
        self._ready = ready

    async def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        if self._ready is not None:
            await self._ready()
        city, token = self._fence()
        try:
            return await self._script(keys=list(keys), args=[*args, city, token])
        except ResponseError as exc:
            if FENCED in str(exc):
                raise LeaseLost(f"{city}: fencing token {token} is not the lease's") from None
            raise


class Scripts:
    def __init__(
        self, redis: Redis, fence: Fence = unfenced, ready: FenceReady | None = None
    ) -> None:
        self.enqueue = FencedScript(register(redis, "enqueue"), fence, ready)
        self.route = FencedScript(register(redis, "route"), fence, ready)
        self.release = FencedScript(register(redis, "release"), fence, ready)
        self.answered = FencedScript(register(redis, "answered"), fence, ready)
        self.ended = FencedScript(register(redis, "ended"), fence, ready)
        self.seat_state = FencedScript(register(redis, "seat_state"), fence, ready)
        self.wrapups = FencedScript(register(redis, "wrapups"), fence, ready)
        self.fallback = FencedScript(register(redis, "fallback"), fence, ready)
        self.callback_claim = FencedScript(register(redis, "callback_claim"), fence, ready)
