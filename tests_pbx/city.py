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
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from acd import records
from acd.callback_runner import CallbackSettings
from acd.controller import AcdController, AcdSettings
from acd.model import SeatSpec, Skill
from acd.models import CallRecord
from acd.service import Acd
from hotline.controller import build
from hotline.db import make_engine, session_factory, upgrade
from hotline.redis import EmbeddedRedis
from hotline.settings import City, Settings
from pbx import callevents as ce
from pbx.link import AmiLink
from pbx.message import Message
from tests_pbx import dns, sipp
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
class Running:
    link: AmiLink
    controller: AcdController
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.link.close()


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
        link, controller = build(
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
            ),
            callbacks,
        )
        link.pipeline.tracker.subscribe(self.events.append)
        feed = link.pipeline.feed_message

        def tap(message: Message) -> None:  # observe, then hand on unchanged
            self.raw.append(message)
            feed(message)

        link.pipeline.feed_message = tap  # type: ignore[method-assign]
        await link.start()
        await link.wait_up(30)
        running = Running(link, controller, asyncio.create_task(controller.run(tick_s=0.1)))
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

    async def carrier(self, ring_s: float, talk_s: float) -> sipp.Sipp:
        """The carrier's side of the next outbound call; qualified, so Asterisk dials it."""
        phone = await sipp.carrier(self.carrier_ns, self.root / "sipp", ring_s, talk_s)
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


@contextlib.asynccontextmanager
async def city_run(root: Path, name: str = "xa", etc: Path = CONF) -> Iterator[CityRun]:  # type: ignore[misc]
    run_id = f"hl{os.getpid()}-{next(_names)}"
    ns, carrier_ns = Netns(f"{run_id}{name}"), Netns(f"{run_id}{name}-c")
    pbx = Asterisk(ns, root / "asterisk", etc, systemname=name)
    embedded: EmbeddedRedis | None = None
    resolver: asyncio.DatagramTransport | None = None
    engine: AsyncEngine | None = None
    run: CityRun | None = None
    try:
        # The carrier is another host (its own namespace: Asterisk binds 0.0.0.0:5060, the
        # carrier's 5060 must be elsewhere) at the address pjsip.conf names, under the host
        # name the pstn contact uses.
        hosts = {"carrier.example.invalid": sipp.CARRIER_IP}
        ns.create(hosts=hosts)
        carrier_ns.create()
        ns.link(carrier_ns, sipp.PBX_IP, sipp.CARRIER_IP)
        with ns.entered():
            resolver = await dns.serve(hosts)
        pbx.start()
        embedded = EmbeddedRedis(root / "redis")
        redis: Redis = Redis.from_url(embedded.url, decode_responses=True)
        engine = make_engine(f"sqlite+aiosqlite:///{root / 'hotline.sqlite3'}")
        await upgrade(engine)
        recordings = root / "recordings"
        recordings.mkdir()
        settings = Settings(
            cities=[City(name=name)], data_dir=root / "data", recordings_dir=recordings
        )
        run = CityRun(
            name,
            root,
            ns,
            carrier_ns,
            pbx,
            redis,
            engine,
            session_factory(engine),
            Acd(redis, cities=(name,)),
            settings,
            recordings,
        )
        with ns.entered():
            yield run
    finally:
        if run is not None:
            await run.close()
            await run.redis.aclose()
        pbx.stop()
        if resolver is not None:
            resolver.close()
        if engine is not None:
            await engine.dispose()
        if embedded is not None:
            embedded.close()
        ns.delete()
        carrier_ns.delete()
