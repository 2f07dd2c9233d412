"""Every branch of the 12345 menu, end to end: the simulator runs the real compiled
asterisk_conf/extensions_ivr.conf, the controller routes over AMI, the call record shows it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks import tasks as callbacks
from acd.callbacks.runner import CallbackSettings
from acd.calls import records
from acd.controller import AcdController, AcdSettings
from acd.queue.service import Acd
from acd.queue.types import CallNotFound, SeatSpec, Skill
from hotline.controller import build
from hotline.settings import AmiEndpoint, City, Settings
from pbx import actions as act
from pbx.link import AmiLink
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SeatBehaviour, SimPbx
from tests.calls_harness import record_ended
from tests.test_e2e_acd import wait_for


@dataclass
class Rig:
    pbx: SimPbx
    link: AmiLink
    controller: AcdController
    sessions: async_sessionmaker[AsyncSession]

    async def call(self, digits: str) -> tuple[str, object]:
        chan = self.pbx.place_call(CallerScript("13800001234", digits, patience_s=10))
        await wait_for(lambda: any(f["call_id"] == chan.linkedid for f in self.pbx.finished))
        outcome = next(f["outcome"] for f in self.pbx.finished if f["call_id"] == chan.linkedid)
        # The controller writes how the call ended after the Hangup reaches it: wait for that
        # (a fixed sleep lost the race on a loaded machine).
        loop = asyncio.get_running_loop()
        end = loop.time() + 10
        while True:
            with contextlib.suppress(CallNotFound):
                record = await records.get_record(self.sessions, chan.linkedid)
                if record.outcome is not None or loop.time() > end:
                    return outcome, record
            if loop.time() > end:
                raise AssertionError(f"no call record for {chan.linkedid}")
            await asyncio.sleep(0.05)


def _callbacks_closed() -> CallbackSettings:
    """Callback hours that do not include now, whenever the suite runs: these tests look at
    the tasks the IVR creates, and the runner must not give one of their seats to a callback
    (an overload task may use the 政企通 seat the next caller needs)."""
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    start, end = (local + timedelta(hours=h) for h in (2, 3))
    return CallbackSettings(hours=(f"{start:%H:%M}", f"{end:%H:%M}"))


@pytest.fixture
async def rig(redis: Redis, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Rig]:
    seats = {"1001": Skill.general, "1002": Skill.enterprise, "1003": Skill.foreign}
    pbx = SimPbx("xa", {s: SeatBehaviour(answer_after_s=0.05, talk_s=0.1) for s in seats})
    server = AmiServer(pbx, secret="s")
    port = await server.start()
    city = City(name="xa", ami=AmiEndpoint(port=port, secret="s"))
    acd = Acd(redis, cities=("xa",))
    for seat_id, skill in seats.items():
        await acd.login(SeatSpec(seat_id, "xa", {skill: 1}, f"PJSIP/{seat_id}"))
        await acd.ready(seat_id)
    runtime = build(
        city,
        Settings(cities=[city]),
        redis,
        sessions,
        AcdSettings(ring_timeout_s=2, wrapup_s={}, callback_after_s=0.2),
        _callbacks_closed(),
    )
    link, controller = runtime.link, runtime.controller
    await link.start()
    await link.wait_up(20)
    runner = asyncio.create_task(runtime.run(tick_s=0.05))
    yield Rig(pbx, link, controller, sessions)
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    await link.close()
    await server.stop()


@pytest.mark.parametrize(
    ("digits", "skill", "seat", "path"),
    [
        ("2", "enterprise", "1002", "2"),  # 政企通请按2
        ("1", "general", "1001", "1"),
        ("0", "general", "1001", "0"),
        ("t", "general", "1001", "t"),  # no input
        ("777", "general", "1001", "iii"),  # invalid three times
        ("9", "foreign", "1003", "9"),
    ],
)
async def test_menu_branch_reaches_its_seat(
    rig: Rig, digits: str, skill: str, seat: str, path: str
) -> None:
    outcome, record = await rig.call(digits)
    assert outcome == "answered"
    assert (record.skill, record.seat_id, record.ivr_path, record.outcome) == (
        skill,
        seat,
        path,
        "completed",
    )


async def test_closed_hours_send_foreign_to_the_general_line(rig: Rig) -> None:
    rig.pbx.open_hours = False  # 外语服务 is open 08:00-20:00
    outcome, record = await rig.call("9")
    assert outcome == "answered" and record.skill == "general" and record.seat_id == "1001"


async def test_overload_offer_accepted_and_declined(rig: Rig) -> None:
    # The controller's first stats tick writes the flag as it finds it (0: seats are ready);
    # set it after that, or the tick would undo it before the call walks the IVR.
    await wait_for(lambda: rig.pbx.globals.get("OVERLOAD_XA") == "0")
    await rig.link.send(act.setvar("OVERLOAD_XA", "1"))  # what the controller sets under load
    outcome, record = await rig.call("21")  # 政企通, then 按1预约回拨
    assert outcome == "callback_accepted"
    assert record.outcome == "callback_requested" and record.queued_at is None
    task = await callbacks.open_task(rig.sessions, "13800001234")
    assert task is not None and (task.source, task.skill) == ("overload", "enterprise")
    outcome, record = await rig.call("2t")  # no answer to the offer: queue as usual
    assert outcome == "answered" and record.skill == "enterprise"
    # The caller got through after all: the callback is no longer needed.
    assert await callbacks.open_task(rig.sessions, "13800001234") is None
    assert await callbacks.count(rig.sessions, "cancelled") == 1
    await rig.link.send(act.setvar("OVERLOAD_XA", "0"))


async def test_hang_up_in_the_menu(rig: Rig) -> None:
    chan = rig.pbx.place_call(CallerScript("13800001234", "", hangs_up_in_menu=True))
    await wait_for(lambda: len(rig.pbx.finished) == 1)
    record = await record_ended(rig.sessions, chan.linkedid)
    assert record.outcome == "ivr_hangup"


async def test_caller_who_gave_up_waiting_gets_a_callback_task(rig: Rig) -> None:
    await rig.controller.acd.pause("1001", "小休")  # nobody takes the general line
    # Patience well above the rig's 0.2 s threshold: the wait counts from when the controller
    # queued the caller, which comes late on a loaded machine.
    chan = rig.pbx.place_call(CallerScript("13700000009", "1", patience_s=1.5))
    await wait_for(lambda: any(f["call_id"] == chan.linkedid for f in rig.pbx.finished))
    # The controller writes task and record after the Hangup reaches it.
    record = await record_ended(rig.sessions, chan.linkedid)
    assert record.outcome == "abandoned"
    task = await callbacks.open_task(rig.sessions, "13700000009")
    assert task is not None and task.source == "abandoned" and task.waited_s >= 0.2
