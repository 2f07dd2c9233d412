"""The database outbox (store.outbox, acd.calls.durable) on real Redis and real databases.

"Down" is a database nobody listens for (a refused connection, as while PostgreSQL
restarts); "up" is the test's own database. Writes made while it is down are kept in Redis in
order and replayed once it answers; a replay after a write that committed is harmless.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks import store as attempts
from acd.callbacks import tasks as callbacks
from acd.callbacks.tables import CallbackTask
from acd.calls import durable
from acd.calls.tables import CallOffer, CallRecord
from acd.queue.service import Acd
from acd.queue.types import SeatSpec, SeatState, Skill
from hotline.db import make_engine, session_factory
from pbx.link import UP, AmiLink
from store import keys
from store.outbox import QUEUED, Kind, MalformedEntry, Outbox, is_outage
from tests.calls_harness import bare_runner

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def down() -> AsyncIterator[Sessions]:
    """Sessions on a PostgreSQL that is not there (connection refused)."""
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{_free_port()}/gone")
    yield session_factory(engine)
    await engine.dispose()


async def _record(sessions: Sessions, call_id: str) -> CallRecord | None:
    async with sessions() as session:
        return await session.scalar(select(CallRecord).where(CallRecord.call_id == call_id))


async def _tasks(sessions: Sessions) -> list[CallbackTask]:
    async with sessions() as session:
        return list(await session.scalars(select(CallbackTask).order_by(CallbackTask.id)))


async def _a_call_while_down(box: Outbox, call_id: str = "xa-1") -> None:
    """A caller who waited, was offered a seat that did not answer, and gave up."""
    assert await box.write(
        "call_entered", call_id=call_id, city="xa", caller_num="13800000001", at=T0
    ) is QUEUED  # fmt: skip
    await box.write("call_queued", call_id=call_id, skill="general", path="1", at=T0)
    at = T0 + timedelta(seconds=5)
    await box.write(
        "seat_offered", call_id=call_id, seat_id="1001", seat_city="xa", overflowed=False, at=at
    )
    await box.write(
        "offer_result", call_id=call_id, result="noanswer", at=at + timedelta(seconds=15)
    )
    await box.write(
        "callback_create", call_id=call_id, number="13800000001", city="xa", skill="general",
        source="abandoned", waited_s=30.0, at=T0 + timedelta(seconds=30), daily_limit=3,
    )  # fmt: skip
    await box.write(
        "call_ended", call_id=call_id, outcome="abandoned", cause=16, at=T0 + timedelta(seconds=30)
    )


async def test_writes_while_down_are_kept_in_order_and_replayed(
    redis: Redis, sessions: Sessions, down: Sessions
) -> None:
    box = durable.outbox(redis, "xa", down)
    await _a_call_while_down(box)
    raw = await redis.lrange(keys.db_outbox("xa"), 0, -1)
    kinds = [json.loads(r)["kind"] for r in raw]
    assert kinds == ["call_entered", "call_queued", "seat_offered", "offer_result",
                     "callback_create", "call_ended"]  # fmt: skip
    first = json.loads(raw[0])
    assert first["args"] == {
        "call_id": "xa-1", "city": "xa", "caller_num": "13800000001", "at": T0.isoformat()
    }  # fmt: skip
    assert await _record(sessions, "xa-1") is None

    # The database answers again: the same city's outbox, now with a database behind it.
    up = durable.outbox(redis, "xa", sessions)
    assert await up.replay() is True
    assert await up.pending() == 0 and not await up.behind()
    record = await _record(sessions, "xa-1")
    assert record is not None
    assert (record.skill, record.outcome, record.end_cause) == ("general", "abandoned", 16)
    async with sessions() as session:
        offers = list(await session.scalars(select(CallOffer)))
    assert [(o.seat_id, o.result) for o in offers] == [("1001", "noanswer")]
    assert [(t.number, t.call_id, t.status) for t in await _tasks(sessions)] == [
        ("13800000001", "xa-1", "open")
    ]
    assert await up.failed() == []


async def test_a_write_waits_behind_kept_ones(
    redis: Redis, sessions: Sessions, down: Sessions
) -> None:
    """Once writes wait, a new one joins them even with the database back: a call's end is
    never written before its beginning."""
    await durable.outbox(redis, "xa", down).write(
        "call_entered", call_id="xa-2", city="xa", caller_num="1", at=T0
    )
    up = durable.outbox(redis, "xa", sessions)
    assert (
        await up.write("call_ended", call_id="xa-2", outcome="ivr_hangup", cause=16, at=T0)
        is QUEUED
    )
    assert await up.pending() == 2
    assert await up.replay()
    record = await _record(sessions, "xa-2")
    assert record is not None and record.outcome == "ivr_hangup"
    # Nothing waits: done at once, answering what the write answers.
    assert await up.write("call_entered", call_id="xa-3", city="xa", caller_num="1", at=T0) is None
    assert await _record(sessions, "xa-3") is not None and await up.pending() == 0


async def test_replay_after_writes_that_committed_changes_nothing(
    redis: Redis, sessions: Sessions, down: Sessions
) -> None:
    """The connection dropped after the commit: the same writes come again from the outbox
    (and the task was called back and closed meanwhile)."""
    box = durable.outbox(redis, "xa", down)
    await _a_call_while_down(box)
    up = durable.outbox(redis, "xa", sessions)
    entries = await redis.lrange(keys.db_outbox("xa"), 0, -1)
    assert await up.replay()
    (task,) = await _tasks(sessions)
    async with sessions.begin() as session:
        row = await session.get(CallbackTask, task.id)
        assert row is not None
        row.status = "connected"  # called back since
    await redis.rpush(keys.db_outbox("xa"), *entries)  # every write once more
    assert await up.replay()
    assert [(t.id, t.status) for t in await _tasks(sessions)] == [(task.id, "connected")]
    async with sessions() as session:
        assert len(list(await session.scalars(select(CallOffer)))) == 1
    assert await up.failed() == []


async def test_a_replayed_cancel_leaves_a_newer_task(
    redis: Redis, sessions: Sessions, down: Sessions
) -> None:
    """The citizen got through at T0 (kept while down); by the replay they called again,
    gave up and have a new open task: the old cancel must not take it."""
    box = durable.outbox(redis, "xa", down)
    await box.write("callback_cancel", number="13800000001", at=T0)
    later = await callbacks.create(
        sessions, number="13800000001", city="xa", skill="general", source="abandoned",
        call_id="xa-9", waited_s=20.0, at=T0 + timedelta(minutes=3),
    )  # fmt: skip
    assert later is not None
    assert await durable.outbox(redis, "xa", sessions).replay()
    assert [t.status for t in await _tasks(sessions)] == ["open"]


async def test_callback_attempt_progress_kept_and_replayed(
    redis: Redis, sessions: Sessions, down: Sessions
) -> None:
    task = await callbacks.create(
        sessions, number="13800000001", city="xa", skill="general", source="abandoned",
        call_id="xa-1", waited_s=20.0, at=T0,
    )  # fmt: skip
    assert task is not None
    assert await attempts.begin(sessions, task, "cb-1-1", "xa", "1001", T0)
    box = durable.outbox(redis, "xa", down)
    await box.write("callback_mark", key="cb-1-1", seat_answered_at=T0, leg_id="leg-1",
                    dialled_at=None, answered_at=None)  # fmt: skip
    await box.write("callback_finish", key="cb-1-1", outcome="connected", at=T0, dial_status="ANSWER",
                    max_attempts=2, backoff_s=5.0)  # fmt: skip
    up = durable.outbox(redis, "xa", sessions)
    assert await up.replay()
    row = await attempts.attempt(sessions, "cb-1-1")
    assert row is not None and (row.outcome, row.leg_id) == ("connected", "leg-1")
    assert [t.status for t in await _tasks(sessions)] == ["connected"]


async def test_refused_and_malformed_entries_go_to_the_failed_list(
    redis: Redis, sessions: Sessions, down: Sessions
) -> None:
    box = durable.outbox(redis, "xa", down)
    # No record for this call: the database refuses the offer, not for an outage.
    await box.write("offer_result", call_id="nobody", result="noanswer", at=T0)
    await redis.rpush(keys.db_outbox("xa"), "{not json")
    await redis.rpush(keys.db_outbox("xa"), json.dumps({"v": 1, "kind": "call_ended", "args": {}}))
    await box.write("call_entered", call_id="xa-5", city="xa", caller_num="1", at=T0)
    up = durable.outbox(redis, "xa", sessions)
    assert await up.replay()
    assert await up.pending() == 0
    assert await _record(sessions, "xa-5") is not None  # the good write behind them is done
    failed = await up.failed()
    assert len(failed) == 3
    assert "no call record for nobody" in failed[0]["error"]
    assert json.loads(failed[0]["entry"])["kind"] == "offer_result"
    assert failed[1]["entry"] == "{not json" and "not JSON" in failed[1]["error"]
    assert "fields missing" in failed[2]["error"]


async def test_a_write_with_wrong_fields_is_refused_at_once(redis: Redis, down: Sessions) -> None:
    box = durable.outbox(redis, "xa", down)
    with pytest.raises(MalformedEntry, match="unknown kind"):
        await box.write("call_lost", call_id="x")
    with pytest.raises(MalformedEntry, match="field at"):
        await box.write("call_entered", call_id="x", city="xa", caller_num="1", at="today")
    with pytest.raises(MalformedEntry, match="field at"):
        naive = datetime(2026, 11, 24, 10, 0)
        await box.write("call_entered", call_id="x", city="xa", caller_num="1", at=naive)
    assert await box.pending() == 0


async def test_replay_stops_at_an_outage_and_keeps_the_rest(redis: Redis, down: Sessions) -> None:
    box = durable.outbox(redis, "xa", down)
    await _a_call_while_down(box)
    assert await box.replay() is False  # still down: nothing applied, nothing dropped
    assert await box.pending() == 6 and await box.failed() == []


async def test_a_write_refused_directly_raises_and_is_not_kept(redis: Redis) -> None:
    async def refuse(**_: object) -> None:
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    box = Outbox(redis, "xa", {"w": Kind({"n": "int"}, refuse)})
    with pytest.raises(IntegrityError):
        await box.write("w", n=1)
    assert await box.pending() == 0


def test_what_an_outage_is() -> None:
    assert is_outage(ConnectionRefusedError(111, "refused"))
    assert is_outage(OperationalError("SELECT 1", {}, Exception("database is locked")))
    assert not is_outage(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_outage(ValueError("bad"))


async def test_the_callback_runner_waits_for_the_database_and_the_outbox(
    redis: Redis, sessions: Sessions, down: Sessions
) -> None:
    """At its start it waits for the database instead of ending the city's process; while
    writes wait in the outbox it dials nothing (how earlier attempts ended is not known)."""
    link = AmiLink("xa", "127.0.0.1", 1, "u", "s")  # never connected
    acd = Acd(redis, cities=("xa",))
    waiting = asyncio.create_task(bare_runner(link, acd, down).run(tick_s=0.05))
    await asyncio.sleep(1.0)
    assert not waiting.done(), waiting.exception() if waiting.done() else None
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)

    await acd.login(SeatSpec("2001", "xa", {Skill.callback: 1}, "PJSIP/2001"))
    await acd.ready("2001")
    due = await callbacks.create(
        sessions, number="13800000001", city="xa", skill="general", source="abandoned",
        call_id="xa-1", waited_s=20.0, at=datetime.now(UTC),
    )  # fmt: skip
    assert due is not None
    await durable.outbox(redis, "xa", down).write(
        "call_entered", call_id="xa-2", city="xa", caller_num="1", at=T0
    )
    runner = bare_runner(link, acd, sessions)
    link.state = UP  # as if connected: only the outbox holds it back
    await runner.dispatch()
    assert await attempts.attempts(sessions, due.id) == []
    assert (await acd.seat("2001")).state == SeatState.ready


async def test_the_replay_loop_ends_when_cancelled_even_if_a_write_swallowed_it(
    redis: Redis,
) -> None:
    """Some drivers turn a cancellation into their own error or none at all; the city's
    runtime must still end (a deposed controller stayed active-looking for ever)."""
    started = asyncio.Event()

    async def swallowing(**_: object) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return  # what such a driver does

    box = Outbox(redis, "xa", {"w": Kind({"n": "int"}, swallowing)}, poll_s=0.05)
    await redis.rpush(keys.db_outbox("xa"), box.entry("w", {"n": 1}))
    replaying = asyncio.create_task(box.run())
    await asyncio.wait_for(started.wait(), 5)
    replaying.cancel()
    done, _ = await asyncio.wait({replaying}, timeout=3)
    assert done, "the replay loop went on after its cancellation"
