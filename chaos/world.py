"""One row's world: a simulated PBX per city, peak traffic, and the real controller process.

The traffic is loadgen's (Poisson arrivals at the ``peak`` curve, callers through the real
IVR, simulated seat operators on the ACD); the controller is `hotline serve --controller ...`
for every city, as in production, configured by a YAML file; the ground truth is the
``Ledger`` fed by the PBXs themselves.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path

from redis.asyncio import Redis

from acd.queue.service import Acd
from acd.queue.types import Skill
from chaos.controller import Controller
from chaos.ledger import Ledger
from chaos.stack import ROOT, Stack
from loadgen.seats import DirectAcdSeats
from loadgen.traffic import CityProfile, SeatProfile, Traffic
from sim import outbound
from sim.ami_server import AmiServer
from sim.engine import SimPbx
from sim.recorder import Recorder
from store.redis_retry import outage_retry

CITIES = (
    ("xa", "西安"), ("xy", "咸阳"), ("bj", "宝鸡"), ("wn", "渭南"), ("hz", "汉中"),
    ("yl", "榆林"), ("ya", "延安"), ("ak", "安康"), ("sl", "商洛"), ("tc", "铜川"),
)  # fmt: skip
FALLBACK_AFTER_S = 60.0  # the dialplan's FALLBACK_AFTER


@dataclass(frozen=True)
class Plan:
    traffic_s: float = 60.0  # seconds of arrivals at the peak rate
    cities: int = 10
    calls_per_h: float = 20_000.0  # over all cities
    seats: int = 11  # per city, besides its callback desk (about 80/15 at the peak)
    first_city_seats: int | None = None  # fewer: the first city overflows to its partners
    patience_s: float = 30.0  # mean time a caller waits before hanging up
    settle_s: float = 90.0  # after the arrivals stop; callers still on a PBX then are stuck
    seed: int = 12345
    recordings: Path | None = None  # the simulator writes real WAV files there
    voice: str = "zh"  # of their speech (sim.recorder.VOICES): "ko" for the Korean test model

    def scaled(self, traffic_s: float) -> Plan:
        return replace(self, traffic_s=traffic_s)


def _seats(index: int, n: int) -> tuple[SeatProfile, ...]:
    out = [
        SeatProfile(
            f"{index + 1}{k + 1:03d}",
            {Skill.general: 1, Skill.enterprise: 2} if k % 2 else {Skill.general: 1},
            answer_p=0.95,
            answer_s=(1.0, 3.0),
            talk_s=6.0,
            wrapup_s=1.5,
        )
        for k in range(n)
    ]
    out.append(SeatProfile(f"{index + 1}{n + 1:03d}", {Skill.callback: 1}, talk_s=4.0))
    return tuple(out)


def profiles(plan: Plan) -> list[CityProfile]:
    chosen = CITIES[: plan.cities]
    per_min = plan.calls_per_h / 60 / len(chosen)
    out = []
    for i, (name, label) in enumerate(chosen):
        seats = plan.seats if i or plan.first_city_seats is None else plan.first_city_seats
        partners = tuple(
            dict.fromkeys(chosen[(i + d) % len(chosen)][0] for d in (1, -1) if len(chosen) > 1)
        )
        out.append(
            CityProfile(
                name,
                label,
                _seats(i, seats),
                per_min,
                "peak",
                partners,
                patience_s=plan.patience_s,
            )
        )
    return out


class World:
    """Set up by ``open``, torn down by ``close``; a row runs ``traffic`` with its fault."""

    def __init__(self, stack: Stack, plan: Plan, name: str) -> None:
        self.stack, self.plan, self.name = stack, plan, name
        self.cities = profiles(plan)
        self.ledger = Ledger()
        self.pbxs: dict[str, SimPbx] = {}
        self.servers: dict[str, AmiServer] = {}
        # The seat operators' client (their clicks go straight to the ACD): like a softphone
        # retrying its request, it waits out a Redis restart instead of the operator's task
        # dying on it, which would leave the seat in wrap-up or paused and count as the
        # product's loss.
        self.redis = Redis.from_url(stack.redis.url, decode_responses=True, retry=outage_retry())
        self.db_url = ""
        self.controller: Controller | None = None
        self.traffic: Traffic | None = None
        self.started = 0.0
        # Its own AMI secret: no controller of another row (or run) logs in to these PBXs.
        self.secret = secrets.token_hex(8)
        self.gone: frozenset[str] = frozenset()  # cities whose PBX a row took away

    async def open(self) -> None:
        await self.redis.flushall()
        self.db_url = await asyncio.to_thread(self.stack.database, f"chaos_{self.name}")
        recorder = Recorder(self.plan.voice) if self.plan.recordings is not None else None
        for city in self.cities:
            pbx = SimPbx(city.name, {}, fallback_after_s=FALLBACK_AFTER_S, recorder=recorder)
            phones = outbound.of(pbx)  # citizens pick up their callback
            phones.other_phones = outbound.PhoneBehaviour(answer_after_s=2.0, talk_s=4.0)
            server = AmiServer(pbx, username="hotline", secret=self.secret)
            _, server.on_action = self.ledger.watch(pbx)
            self.pbxs[city.name], self.servers[city.name] = pbx, server
        ports = {name: await server.start() for name, server in self.servers.items()}
        self.controller = Controller(
            [c.name for c in self.cities], self._env(ports), self.stack.root / f"{self.name}.log"
        )
        self.controller.start()
        trunks = {c.name: f"trunk-{c.name}" for c in self.cities}
        acd = Acd(self.redis, cities=tuple(trunks), trunks=trunks)
        pairs = [(c, self.pbxs[c.name]) for c in self.cities]
        self.traffic = Traffic(pairs, DirectAcdSeats(acd), seed=self.plan.seed)
        await self.traffic.staff()
        await self.links_up(60)

    def _env(self, ports: dict[str, int]) -> dict[str, str]:
        config = {
            "redis_url": self.stack.redis.url,
            "database_url": self.db_url,
            "data_dir": str(self.stack.root / self.name),
            "recordings_dir": str(self.plan.recordings or self.stack.root / self.name / "rec"),
            "callbacks": {"hours": "00:00-00:00", "max_attempts": 2, "backoff_s": 5,
                          "seat_ring_s": 6, "citizen_ring_s": 10, "wrapup_s": 2},
            "cities": [
                {"name": c.name, "label": c.label, "partners": list(c.partners),
                 "trunk": f"trunk-{c.name}",
                 "ami": {"port": ports[c.name], "username": "hotline", "secret": self.secret}}
                for c in self.cities
            ],
        }  # fmt: skip
        path = self.stack.root / f"{self.name}.yaml"
        path.write_text(json.dumps(config, ensure_ascii=False))  # JSON is YAML
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        return {**env, "HOTLINE_CONFIG": str(path), "PYTHONPATH": str(ROOT)}

    async def links_up(self, timeout_s: float) -> None:
        """Every city's controller logged in to its PBX, and a second for its resync."""
        end = time.monotonic() + timeout_s
        for _ in range(int(timeout_s / 0.2) + 1):
            if all(any(s.logged_in for s in srv.sessions) for srv in self.servers.values()):
                break
            if time.monotonic() > end:
                raise RuntimeError(f"chaos {self.name}: the controller did not connect")
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)

    async def links_down(self, timeout_s: float) -> None:
        """No controller connected to any PBX (after a kill, before its restart logs in)."""
        for _ in range(int(timeout_s / 0.1) + 1):
            if not any(srv.sessions for srv in self.servers.values()):
                return
            await asyncio.sleep(0.1)

    async def traffic_with(self, fault: Callable[[World], Coroutine[object, object, None]]) -> None:
        """Peak traffic for the plan's time with ``fault`` running alongside, then settle."""
        assert self.traffic is not None
        self.started = time.monotonic()
        self.traffic.start()
        injected = asyncio.get_running_loop().create_task(fault(self))
        await asyncio.sleep(self.plan.traffic_s)
        await injected
        await self.settle()

    async def settle(self) -> None:
        """No new callers; the ones on the PBXs finish (or are stuck after settle_s)."""
        assert self.traffic is not None
        for city in self.cities:
            self.traffic.stop_arrivals(city.name)
        end = time.monotonic() + self.plan.settle_s
        for _ in range(int(self.plan.settle_s / 0.5) + 1):  # a poll of the PBXs
            if time.monotonic() >= end or not self.callers_on_pbx():
                break
            await asyncio.sleep(0.5)
        await self.traffic.stop()
        self.ledger.close()

    def callers_on_pbx(self) -> int:
        return sum(
            1 for p in self.pbxs.values() for c in p.live() if c.name.startswith("PJSIP/pstn")
        )

    def at(self, fraction: float) -> float:
        """Seconds from now to ``fraction`` of the traffic time."""
        return max(0.0, self.started + fraction * self.plan.traffic_s - time.monotonic())

    async def close(self) -> None:
        if self.controller is not None:
            await self.controller.stop()
        for server in self.servers.values():
            await server.stop()
        await self.redis.aclose()
