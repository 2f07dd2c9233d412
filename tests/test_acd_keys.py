"""The ACD's key names are made in one place (store.keys.ACD_KEYS) for Python and for Lua:
every key function the scripts get names exactly the key the Python side names."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from acd.queue.scripts import NAMES, PREFIX_ARG, lua_keys, source
from store import keys

PYTHON: dict[str, Callable[..., str]] = {
    "q": keys.acd_queue,
    "call": keys.acd_call,
    "seat": keys.acd_seat,
    "ready": keys.acd_ready,
    "city": keys.acd_city,
    "seats": keys.acd_city_seats,
    "active": keys.acd_active,
    "seq": lambda: keys.ACD_SEQ,
    "lease": keys.acd_lease,
    "fence": keys.acd_fence,
    "fenced": keys.acd_fenced,
}


def test_every_key_kind_has_its_python_function() -> None:
    assert set(PYTHON) == set(keys.ACD_KEYS)


@pytest.mark.parametrize("kind", sorted(keys.ACD_KEYS))
async def test_lua_names_the_same_key_as_python(redis: Redis, kind: str) -> None:
    parts = keys.ACD_KEYS[kind]
    args = [f"v{i}:{{x}}" for i in range(len(parts))]  # separators and braces pass unchanged
    params = ", ".join(f"ARGV[{i + 2}]" for i in range(len(parts)))
    script = lua_keys(1) + f"return key_{kind}({params})"
    got = await redis.eval(script, 0, keys.ACD_KEY_PREFIX, *args)  # type: ignore[misc]
    assert got == PYTHON[kind](*args)


def test_every_script_is_registered_with_its_prefix_argument() -> None:
    assert set(PREFIX_ARG) == set(NAMES)
    for name in NAMES:
        body = source(name)
        # No script names an ACD key by hand any more.
        assert "'ready:'" not in body and "'seat:'" not in body and "'call:'" not in body
        assert f"local pfx = ARGV[{PREFIX_ARG[name]}]" in body
