"""多援一: per city, rings that widen the seat pool when its callers wait too long.

Ring 1 is the caller's own city; ring 2 adds the helping cities, in order; ring 3 adds every
city. A ring opens when the head caller's wait, the queue's expected wait (EWT) or the
waiting-callers-per-ready-seat ratio crosses its threshold. Dispatchers switch a city's
overflow on and off and add or remove helping cities at run time: that state lives in Redis,
so every controller and API process sees the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from store import keys


@dataclass(frozen=True, slots=True)
class OverflowRule:
    """Thresholds that open ring 2 (helpers) and ring 3 (all cities); None = never."""

    wait_s: float | None = 30.0
    ewt_s: float | None = 120.0
    callers_per_ready: float | None = 3.0
    all_cities_wait_s: float | None = 90.0


@dataclass(frozen=True, slots=True)
class OverflowState:
    city: str
    enabled: bool
    helpers: tuple[str, ...]  # partner cities, in the order they are asked
    rule: OverflowRule = field(default_factory=OverflowRule)


async def get_state(
    redis: Redis, city: str, default_helpers: tuple[str, ...] = ()
) -> OverflowState:
    raw: dict[str, str] = await _r(redis).hgetall(keys.acd_city(city))
    return state_from_hash(city, raw, default_helpers)


def state_from_hash(
    city: str, raw: dict[str, str], default_helpers: tuple[str, ...]
) -> OverflowState:
    helpers = tuple(json.loads(raw["helpers"])) if "helpers" in raw else default_helpers
    rule = OverflowRule(**json.loads(raw["rule"])) if "rule" in raw else OverflowRule()
    return OverflowState(city, raw.get("enabled", "1") == "1", helpers, rule)


async def configure(
    redis: Redis, city: str, helpers: tuple[str, ...], rule: OverflowRule | None = None
) -> None:
    """Initial configuration from settings (partner cities); keeps a dispatcher's on/off."""
    mapping = {"helpers": json.dumps(list(helpers))}
    if rule is not None:
        mapping["rule"] = json.dumps(_rule(rule))
    await _r(redis).hset(keys.acd_city(city), mapping=mapping)


def rule_json(rule: OverflowRule) -> str:
    return json.dumps(_rule(rule))


def _rule(rule: OverflowRule) -> dict[str, float | None]:
    return {
        "wait_s": rule.wait_s,
        "ewt_s": rule.ewt_s,
        "callers_per_ready": rule.callers_per_ready,
        "all_cities_wait_s": rule.all_cities_wait_s,
    }


async def set_rule(redis: Redis, city: str, rule: OverflowRule) -> None:
    await _r(redis).hset(keys.acd_city(city), "rule", json.dumps(_rule(rule)))


async def set_enabled(redis: Redis, city: str, enabled: bool) -> None:
    await _r(redis).hset(keys.acd_city(city), "enabled", "1" if enabled else "0")


async def add_helper(redis: Redis, city: str, helper: str) -> tuple[str, ...]:
    if helper == city:
        raise ValueError(f"city {city} cannot help itself")
    state = await get_state(redis, city)
    helpers = state.helpers if helper in state.helpers else (*state.helpers, helper)
    await _r(redis).hset(keys.acd_city(city), "helpers", json.dumps(list(helpers)))
    return helpers


async def remove_helper(redis: Redis, city: str, helper: str) -> tuple[str, ...]:
    state = await get_state(redis, city)
    helpers = tuple(h for h in state.helpers if h != helper)
    await _r(redis).hset(keys.acd_city(city), "helpers", json.dumps(list(helpers)))
    return helpers


def _r(redis: Redis) -> Any:
    """The client, untyped: redis-py types every reply as a union of all reply shapes."""
    return redis
