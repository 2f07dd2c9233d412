"""One city under test: its own network namespace, a real Asterisk loading asterisk_conf/,
real Redis (embedded) and SQLite, and the real controller (hotline.controller.build) whose
AMI connection is opened inside the namespace. Seats are baresip softphones, callers and the
carrier SIPp. Everything a test starts is stopped by ``close()``, which the fixture always runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from acd.callbacks.runner import CallbackSettings
from acd.calls import records
from acd.calls.tables import CallRecord
from acd.controller import AcdSettings
from acd.queue.service import Acd
from acd.queue.types import SeatSpec, Skill
from hotline.controller import build
from hotline.db import make_engine, session_factory, upgrade
from hotline.redis import EmbeddedRedis
from hotline.settings import City, Settings
from ivr.seats import SeatList
from pbx import callevents as ce
from pbx.message import Message

# The simulator tests' running controller: the same link, controller and task to stop.
from tests.calls_harness import Controller as Running
from tests_pbx import citycopy, dns, sipp
from tests_pbx.asterisk import CONF, Asterisk
from tests_pbx.netns import Netns
from tests_pbx.procs import Child
from tests_pbx.seats import Seat

_names = itertools.count()

FAST_CALLBACKS = CallbackSettings(
    hours=("00:00", "00:00"), backoff_s=1.0, seat_ring_s=10, citizen_ring_s=10, wrapup_s=0
)


async def wait_until(
    check: Callable[[], Awaitable[object]], what: str, timeout: float = 30.0
) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await check():
        if loop.time() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.1)


@dataclass
class CityRun:
    name: str
    root: Path
    ns: Netns
    carrier_ns: Netns  # callers and the carrier's side of outbound calls
    pbx: Asterisk
    redis: Redis
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    acd: Acd
    settings: Settings
    recordings: Path
    events: list[ce.CallEvent] = field(default_factory=list)  # what the controller saw
    raw: list[Message] = field(default_factory=list)  # the AMI events under them
    controllers: list[Running] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)
    _seat_ports: Iterator[int] = field(
        default_factory=lambda: itertools.count(5100, 10)
    )  # baresip also binds TCP and TLS

    @property
    def city(self) -> City:
        return self.settings.city(self.name)

    async def start_controller(
        self, acd_settings: AcdSettings | None = None, callbacks: CallbackSettings = FAST_CALLBACKS
    ) -> Running:
        runtime = build(
            self.city,
            self.settings,
            self.redis,
            self.sessions,
            acd_settings
            or AcdSettings(
                ring_timeout_s=8,
                wrapup_s={"general": 0, "enterprise": 0},
                recordings=str(self.recordings),
                callback_after_s=1.0,
                helpers=tuple(self.city.partners),
            ),
            callbacks,
        )
        link = runtime.link
        link.pipeline.tracker.subscribe(self.events.append)
        feed = link.pipeline.feed_message

        def tap(message: Message, received_ms: int | None = None) -> list[ce.CallEvent]:
            self.raw.append(message)  # observe, then hand on unchanged
            return feed(message, received_ms)

        link.pipeline.feed_message = tap  # type: ignore[method-assign]
        await link.start()
        await link.wait_up(30)
        running = Running(runtime, asyncio.create_task(runtime.run(tick_s=0.1)))
        self.controllers.append(running)
        return running

    async def seat(self, seat_id: str, skills: tuple[Skill, ...], answer: bool = True) -> Seat:
        """A registered softphone, logged in and ready in the ACD."""
        phone = Seat(self.pbx, self.root, seat_id, next(self._seat_ports), answer)
        self.children.append(phone)
        await phone.start()
        await self.acd.login(
            SeatSpec(seat_id, self.name, {s: 1 for s in skills}, f"PJSIP/{seat_id}")
        )
        await self.acd.ready(seat_id)
        return phone

    async def call(self, caller: str, digits: str, hangup_after_s: float | None) -> sipp.Sipp:
        phone = await sipp.call(self.carrier_ns, self.root / "sipp", caller, digits, hangup_after_s)
        self.children.append(phone)
        return phone

    async def carrier(self, ring_s: float, talk_s: float, digits: str = "") -> sipp.Sipp:
        """The carrier's side of the next outbound call; qualified, so Asterisk dials it.
        ``digits``: the citizen presses them after answering (an automated return visit)."""
        phone = await sipp.carrier(
            self.carrier_ns, self.root / "sipp", ring_s, talk_s, digits=digits
        )
        self.children.append(phone)

        async def reachable() -> bool:
            if not phone.running:
                raise AssertionError(f"the carrier's SIPp exited: {phone.output()[-2000:]}")
            # pstn's aor qualifies every 60 s; ask now instead of waiting for the next round.
            self.pbx.cli("pjsip qualify pstn")
            await asyncio.sleep(0.3)
            shown = self.pbx.cli("pjsip show contacts")
            return bool(re.search(r"Contact:\s+pstn/\S+\s+\S+\s+Avail", shown))

        await wait_until(reachable, "the carrier's contact to be reachable", 20)
        return phone

    def call_ids(self) -> list[str]:
        return [e.call_id for e in self.events if isinstance(e, ce.CallEntered)]

    async def call_id_of(self, caller: str, timeout: float = 30.0) -> str:
        found: list[str] = []

        async def entered() -> bool:
            found[:] = [
                e.call_id
                for e in self.events
                if isinstance(e, ce.CallEntered) and e.caller_num == caller
            ]
            return bool(found)

        await wait_until(entered, f"the call of {caller}", timeout)
        return found[0]

    async def record(
        self, call_id: str, check: Callable[[CallRecord], object], what: str, timeout: float = 40.0
    ) -> CallRecord:
        found: list[CallRecord] = []

        async def ready() -> bool:
            try:
                rec = await records.get_record(self.sessions, call_id)
            except records.CallNotFound:
                return False
            found[:] = [rec]
            return bool(check(rec))

        await wait_until(ready, what, timeout)
        return found[0]

    def kinds(self, call_id: str) -> list[str]:
        return [e.kind for e in self.events if e.call_id == call_id]

    def user_events(self, name: str) -> list[Message]:
        return [m for m in self.raw if m.get("Event") == "UserEvent" and m.get("UserEvent") == name]

    async def close(self) -> None:
        for running in self.controllers:
            with contextlib.suppress(Exception):
                await running.stop()
        for child in self.children:
            with contextlib.suppress(Exception):
                await child.stop()


@dataclass(frozen=True)
class CitySpec:
    name: str
    etc: Path
    hosts: dict[str, str]  # host names its Asterisk resolves (trunk contacts)
    partners: tuple[str, ...] = ()


# The inter-city link of scenario f: xa's pjsip.conf identifies trunk-xy by 192.0.2.21; the
# second city's copy identifies trunk-xa by the address xa's Asterisk sends from on that link.
XA_TRUNK_IP, XY_TRUNK_IP = "192.0.2.20", "192.0.2.21"


@contextlib.asynccontextmanager
async def city_run(root: Path, name: str = "xa", etc: Path = CONF) -> AsyncIterator[CityRun]:
    hosts = {"carrier.example.invalid": sipp.CARRIER_IP}
    async with _cities(root, [CitySpec(name, etc, hosts)], links=[]) as (run,):
        yield run


@contextlib.asynccontextmanager
async def two_cities(root: Path, xy_seats: SeatList) -> AsyncIterator[tuple[CityRun, CityRun]]:
    """xa (asterisk_conf/ as committed) and xy (a copy with its per-city settings), each with
    its own Asterisk and carrier, joined by a veth link as the inter-city trunk."""
    xy_etc = citycopy.second_city(CONF, root / "xy-etc", "xy", "xa", XA_TRUNK_IP, xy_seats)
    carrier = {"carrier.example.invalid": sipp.CARRIER_IP}
    specs = [
        CitySpec("xa", CONF, carrier | {"xy.hotline.example.invalid": XY_TRUNK_IP}, ("xy",)),
        CitySpec("xy", xy_etc, carrier | {"xa.hotline.example.invalid": XA_TRUNK_IP}, ("xa",)),
    ]
    async with _cities(root, specs, links=[(0, 1, XA_TRUNK_IP, XY_TRUNK_IP)]) as (xa, xy):
        yield xa, xy


@contextlib.asynccontextmanager
async def _cities(
    root: Path, specs: list[CitySpec], links: list[tuple[int, int, str, str]]
) -> AsyncIterator[tuple[CityRun, ...]]:
    """Start the cities (one Redis, one database, one settings object for all, as the
    controllers of a deployment share them); the calling thread ends up in the first city's
    namespace."""
    run_id = f"hl{os.getpid()}-{next(_names)}"
    several = len(specs) > 1
    nss = [Netns(f"{run_id}{s.name}") for s in specs]
    carriers = [Netns(f"{run_id}{s.name}-c") for s in specs]
    pbxs = [
        Asterisk(ns, root / s.name / "asterisk" if several else root / "asterisk", s.etc, s.name)
        for ns, s in zip(nss, specs, strict=True)
    ]
    embedded: EmbeddedRedis | None = None
    resolvers: list[asyncio.DatagramTransport] = []
    engine: AsyncEngine | None = None
    runs: list[CityRun] = []
    redis: Redis | None = None
    try:
        # The carrier is another host (its own namespace: Asterisk binds 0.0.0.0:5060, the
        # carrier's 5060 must be elsewhere) at the address pjsip.conf names, under the host
        # name the pstn contact uses.
        for spec, ns, carrier_ns in zip(specs, nss, carriers, strict=True):
            ns.create(hosts=spec.hosts)
            carrier_ns.create()
            ns.link(carrier_ns, sipp.PBX_IP, sipp.CARRIER_IP)
            with ns.entered():
                resolvers.append(await dns.serve(spec.hosts))
        for a, b, ip_a, ip_b in links:
            nss[a].link(nss[b], ip_a, ip_b)
        for pbx in pbxs:
            pbx.start()
        embedded = EmbeddedRedis(root / "redis")
        redis = Redis.from_url(embedded.url, decode_responses=True)
        engine = make_engine(f"sqlite+aiosqlite:///{root / 'hotline.sqlite3'}")
        await upgrade(engine)
        recordings = root / "recordings"
        recordings.mkdir()
        names = tuple(s.name for s in specs)
        cities = [
            City(name=s.name, trunk=f"trunk-{s.name}" if several else "", partners=list(s.partners))
            for s in specs
        ]
        settings = Settings(cities=cities, data_dir=root / "data", recordings_dir=recordings)
        sessions = session_factory(engine)
        for spec, ns, carrier_ns, pbx in zip(specs, nss, carriers, pbxs, strict=True):
            city_root = root / spec.name if several else root
            city_root.mkdir(exist_ok=True)
            runs.append(
                CityRun(
                    spec.name,
                    city_root,
                    ns,
                    carrier_ns,
                    pbx,
                    redis,
                    engine,
                    sessions,
                    Acd(redis, cities=names),
                    settings,
                    recordings,
                )
            )
        with nss[0].entered():
            yield tuple(runs)
    finally:
        for run in runs:
            await run.close()
        if redis is not None:
            await redis.aclose()
        for pbx in pbxs:
            pbx.stop()
        for resolver in resolvers:
            resolver.close()
        if engine is not None:
            await engine.dispose()
        if embedded is not None:
            embedded.close()
        for ns in nss + carriers:
            ns.delete()
