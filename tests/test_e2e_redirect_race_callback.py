"""A caller who hangs up the moment a seat is found (the Redirect finds no channel) is an
abandoned caller: the record says so and, having waited long enough, a callback task is
written. Found by `make chaos` (row peak): such callers were recorded as hung up in the menu
and never called back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks.tables import CallbackTask
from acd.calls.tables import CallRecord
from acd.controller import AcdSettings
from acd.queue.service import Acd
from acd.queue.types import SeatSpec, Skill
from hotline.controller import build
from hotline.settings import AmiEndpoint, City, Settings
from pbx.message import Message
from sim.ami_server import AmiServer
from sim.engine import CallerScript, SeatBehaviour, SimPbx
from tests.calls_harness import record_ended, wait_for


async def _one_caller(
    redis: Redis,
    sessions: async_sessionmaker[AsyncSession],
    hook: Callable[[SimPbx, AmiServer, Message], None],
) -> tuple[str, CallRecord, list[CallbackTask], Acd]:
    """One caller queued, then seat 1001 made ready; ``hook`` sees every action first."""
    pbx = SimPbx("xa", {"1001": SeatBehaviour(answer_after_s=0.1, talk_s=0.3)})
    server = AmiServer(pbx, secret="sim")
    server.on_action = lambda msg: hook(pbx, server, msg)
    city = City(name="xa", ami=AmiEndpoint(port=await server.start(), secret="sim"))
    acd = Acd(redis, cities=("xa",))
    await acd.login(SeatSpec("1001", "xa", {Skill.general: 1}, "PJSIP/1001"))
    runtime = build(
        city,
        Settings(cities=[city]),
        redis,
        sessions,
        AcdSettings(wrapup_s={}, callback_after_s=0.0),
    )
    await runtime.link.start()
    await runtime.link.wait_up(20)
    runner = asyncio.create_task(runtime.run(tick_s=0.05))
    try:
        caller = pbx.place_call(CallerScript("13800000001", "1", patience_s=30))
        await asyncio.sleep(0.5)  # queued, no seat ready yet
        await acd.ready("1001")
        await wait_for(lambda: len(pbx.finished) == 1)
        server.on_action = None
        # Within the default wait (20 s): an orphan pass would close it only after 30 s.
        record = await record_ended(sessions, caller.linkedid)
        async with sessions() as s:
            tasks = list((await s.scalars(select(CallbackTask))).all())
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await runtime.link.close()
        await server.stop()
    return caller.linkedid, record, tasks, acd


async def test_caller_gone_before_the_redirect_is_abandoned_and_called_back(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    def hang_up_first(pbx: SimPbx, server: AmiServer, msg: Message) -> None:
        # The caller leaves just as the controller starts its Setvar/Redirect for the seat:
        # the channel is gone at once, its Hangup event reaches the controller a moment after
        # the action's error (the order the chaos run saw).
        chan = pbx.find(msg.get("Channel") or "")
        if msg.get("Action") == "Setvar" and chan is not None and chan.task is not None:
            del pbx.channels[chan.name]
            asyncio.get_running_loop().call_later(0.3, chan.task.cancel)

    call_id, record, tasks, acd = await _one_caller(redis, sessions, hang_up_first)
    assert record.outcome == "abandoned"
    assert [(t.number, t.source, t.call_id) for t in tasks] == [
        ("13800000001", "abandoned", call_id)
    ]
    assert (await acd.seat("1001")).state.value == "ready"  # the seat is free again


async def test_its_hangup_lost_in_a_link_drop_still_ends_it_with_its_callback(
    redis: Redis, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The same caller, but the link drops between the Redirect's error and the Hangup: the
    Hangup is never seen. The resync after the reconnect ends the call as that Hangup would
    have (abandoned, called back), not half a minute later as an orphan without its task."""

    def hang_up_in_the_dark(pbx: SimPbx, server: AmiServer, msg: Message) -> None:
        chan = pbx.find(msg.get("Channel") or "")
        if msg.get("Action") == "Setvar" and chan is not None and chan.task is not None:
            del pbx.channels[chan.name]
            loop = asyncio.get_running_loop()
            # The action's error goes out first; then the link drops, then the caller's
            # Hangup happens with no client to hear it.
            loop.call_later(0.05, _drop_link, server)
            loop.call_later(0.1, chan.task.cancel)

    call_id, record, tasks, _acd = await _one_caller(redis, sessions, hang_up_in_the_dark)
    assert record.outcome == "abandoned"
    assert [(t.number, t.source, t.call_id) for t in tasks] == [
        ("13800000001", "abandoned", call_id)
    ]


def _drop_link(server: AmiServer) -> None:
    for session in list(server.sessions):
        session.close()
