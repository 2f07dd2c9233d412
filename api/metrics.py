"""Prometheus metrics: live values read from Redis at scrape time (any API process gives the
same answer), plus this process's own request latencies to the controllers."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from acd.queue import latency as route_latency
from acd.queue import watchdog
from acd.queue.overflow import get_state as overflow_state
from acd.queue.service import Acd, wall_ms
from acd.queue.stats import Stats
from acd.queue.types import Skill
from store import keys

PROCESS = CollectorRegistry(auto_describe=True)
COMMAND_SECONDS = Histogram(
    "hotline_controller_command_seconds",
    "Round trip of an API request to a city's controller (three-way, transfer, spy, ...)",
    ["kind", "result"],
    registry=PROCESS,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
LINK_STATES = ("down", "connecting", "resyncing", "up")


class _Frozen(Collector):
    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> Any:
        return iter(self.families)


async def _asr(redis: Any) -> tuple[int, int]:
    length = int(await redis.xlen(keys.ASR_STREAM))
    try:
        groups = await redis.xinfo_groups(keys.ASR_STREAM)
    except ResponseError:  # no stream yet
        return length, 0
    group = next((g for g in groups if g.get("name") == keys.ASR_GROUP), None)
    if group is None:
        return length, 0
    pending = int(group.get("pending", 0))
    if group.get("lag") is not None:  # Redis 7
        return int(group["lag"]), pending
    # Older servers: the entries after the group's last delivered one (bounded count).
    last = group.get("last-delivered-id", "0-0")
    after = await redis.xrange(keys.ASR_STREAM, min=last, max="+", count=10_000)
    return len([e for e in after if e[0] != last]), pending


async def scrape(redis: Redis, cities: tuple[str, ...]) -> bytes:
    client: Any = redis
    waiting = GaugeMetricFamily(
        "hotline_queue_waiting", "Callers waiting in the queue", labels=["city", "skill"]
    )
    longest = GaugeMetricFamily(
        "hotline_queue_longest_wait_seconds",
        "Wait of the longest waiting caller",
        labels=["city", "skill"],
    )
    seats = GaugeMetricFamily("hotline_seats", "Seats by state", labels=["city", "state"])
    link = GaugeMetricFamily(
        "hotline_ami_link_state", "1 for the AMI link's current state", labels=["city", "state"]
    )
    overflow = GaugeMetricFamily(
        "hotline_overflow_enabled", "多援一 overflow switched on", labels=["city"]
    )
    calls = CounterMetricFamily(
        "hotline_calls_today",
        "Calls today (city time) by result",
        labels=["city", "skill", "result"],
    )
    service_level = GaugeMetricFamily(
        "hotline_service_level_ratio",
        "Answered within 15 s over the last 15 minutes",
        labels=["city", "skill"],
    )
    asa = GaugeMetricFamily(
        "hotline_answer_wait_seconds_avg",
        "Average speed of answer, last 15 minutes",
        labels=["city", "skill"],
    )
    routing = HistogramMetricFamily(
        "hotline_route_decision_seconds",
        "Time the controller took to pick a seat for a caller (one acd.route call)",
        labels=["city"],
    )
    resets = CounterMetricFamily(
        "hotline_seats_reset",
        "Seats the watchdog reset (stuck ringing or busy with no channel on the PBX)",
        labels=["city"],
    )
    stats = Stats(redis)
    now = wall_ms()
    for city in cities:
        resets.add_metric([city], int(await client.get(watchdog.resets_key(city)) or 0))
        timed = await route_latency.read(redis, city)
        routing.add_metric([city], [(b, float(n)) for b, n in timed.buckets], timed.sum_s)
        for skill in Skill:
            snap = await stats.snapshot(city, skill, now)
            waiting.add_metric([city, skill.value], snap.waiting)
            longest.add_metric([city, skill.value], snap.longest_wait_s)
            today = snap.windows["today"]
            for result, value in (
                ("offered", today.offered),
                ("answered", today.answered),
                ("abandoned", today.abandoned),
            ):
                calls.add_metric([city, skill.value, result], value)
            recent = snap.windows["15m"]
            if recent.service_level is not None:
                service_level.add_metric([city, skill.value], recent.service_level)
            if recent.asa_s is not None:
                asa.add_metric([city, skill.value], recent.asa_s)
        counts = await Acd(redis).state_counts(city)
        for seat_state, n in counts.items():
            seats.add_metric([city, seat_state.value], n)
        current = await client.hget(keys.ami_link(city), "state")
        for state in LINK_STATES:
            link.add_metric([city, state], 1 if current == state else 0)
        overflow.add_metric([city], 1 if (await overflow_state(redis, city)).enabled else 0)
    backlog, pending = await _asr(client)
    asr = GaugeMetricFamily("hotline_asr_backlog", "ASR jobs not yet taken by a worker")
    asr.add_metric([], backlog)
    asr_pending = GaugeMetricFamily("hotline_asr_pending", "ASR jobs taken but not acknowledged")
    asr_pending.add_metric([], pending)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        _Frozen(
            [
                waiting,
                longest,
                seats,
                link,
                overflow,
                calls,
                service_level,
                asa,
                routing,
                resets,
                asr,
                asr_pending,
            ]
        )
    )
    return generate_latest(registry) + generate_latest(PROCESS)
