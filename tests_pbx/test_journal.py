"""The call journal on a real Asterisk 22: two citizens call while no controller runs, one
hangs up in the menu, one after waiting in [acd-wait]; the hangup handler [hl-journal] writes
their AstDB entries, and the controller started afterwards reads them with DBGetTree and
records both calls, with the callback the waiting one is owed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from acd.callbacks.tables import CallbackTask
from acd.calls.tables import CallRecord
from acd.queue.types import Skill
from pbx import journal as pj
from tests_pbx.city import CityRun, wait_until

pytestmark = pytest.mark.timeout(180)

IN_MENU = "13800000031"
WAITED = "13800000032"


async def test_calls_no_controller_saw_are_recorded_from_the_journal(xa: CityRun) -> None:
    menu = await xa.call(IN_MENU, "", hangup_after_s=2)
    waited = await xa.call(WAITED, "1", hangup_after_s=14)
    assert await menu.wait(30) == 0, menu.messages()[-3000:]
    assert await waited.wait(40) == 0, waited.messages()[-3000:]
    shown = xa.pbx.cli("database show hlj")
    values = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in shown.splitlines())
        if key.startswith("/hlj/")
    )
    assert len(values) == 2, shown
    entries = {e.caller: e for e in (pj.parse_entry(k, v) for k, v in values.items())}
    assert (entries[IN_MENU].stage, entries[WAITED].stage) == ("ivr", "wait"), values
    assert entries[WAITED].skill == "general" and entries[WAITED].wait_start is not None

    await xa.start_controller()

    async def recorded() -> list[CallRecord]:
        async with xa.sessions() as session:
            found = await session.scalars(
                select(CallRecord).where(CallRecord.ended_at.is_not(None))
            )
            return list(found.all())

    async def both() -> bool:
        return len(await recorded()) == 2

    await wait_until(both, "both calls recorded from the journal", 30)
    outcomes = {r.caller_num: (r.call_id, r.outcome) for r in await recorded()}
    assert outcomes == {
        IN_MENU: (entries[IN_MENU].call_id, "ivr_hangup"),
        WAITED: (entries[WAITED].call_id, "abandoned"),
    }
    async with xa.sessions() as session:
        tasks = (await session.scalars(select(CallbackTask))).all()
    assert [(t.number, t.call_id) for t in tasks] == [(WAITED, entries[WAITED].call_id)]


async def test_an_answered_call_journals_its_seat_and_talk_time(xa: CityRun) -> None:
    """app_dial leaves DIALSTATUS=ANSWER on the caller before its hangup handler runs, though
    the answered Dial ended the dialplan, and Dial's U() notes when the seat answered.
    The controller routes this call (the CLI cannot Redirect: res_clioriginate is not loaded);
    the journal is written all the same."""
    await xa.seat("1004", (Skill.general,))
    await xa.start_controller()
    caller = await xa.call(WAITED, "1", hangup_after_s=8)
    call_id = await xa.call_id_of(WAITED)
    assert await caller.wait(60) == 0, caller.messages()[-3000:]
    shown = xa.pbx.cli("database show hlj")
    [entry] = [
        pj.parse_entry(key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in shown.splitlines())
        if key.startswith("/hlj/")
    ]
    assert (entry.call_id, entry.stage, entry.seat) == (call_id, "answered", "PJSIP/1004"), shown
    # the talk with the seat: less than the wait's end to the hang-up (ANSWEREDTIME, the
    # caller's time since its own Answer(), was more than the whole call)
    assert entry.talk is not None and entry.wait_start is not None, shown
    assert 0 < entry.talk <= entry.end - entry.wait_start, shown
    record = await xa.record(call_id, lambda r: r.outcome, "the call record to close")
    assert (record.outcome, record.seat_id) == ("completed", "1004")  # the live path's
