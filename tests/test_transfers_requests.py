"""Transfer and monitoring requests refused with a clear reason, before anything is sent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.calls.transfers import Transfers, on_duty, room_of
from acd.commands import stream as commands
from acd.commands.loop import CommandLoop
from acd.commands.stream import Command
from acd.queue.service import Acd
from pbx.link import AmiLink
from tests.calls_harness import bare_runner
from tickets.models import Department

NOON = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
NIGHT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 23:00


def test_duty_hours_and_room_names() -> None:
    assert on_duty("08:30-17:30", "Asia/Shanghai", NOON)
    assert not on_duty("08:30-17:30", "Asia/Shanghai", NIGHT)
    assert on_duty("00:00-24:00", "Asia/Shanghai", NIGHT)
    assert room_of("xa-1796151237.0") == "roomxa17961512370"


@pytest.fixture
def loop(redis: Redis, sessions: async_sessionmaker[AsyncSession]) -> CommandLoop:
    acd = Acd(redis, cities=("xa",), clock=lambda: int(NIGHT.timestamp() * 1000))
    link = AmiLink("xa", "127.0.0.1", 1, "u", "s")  # never connected: nothing may be sent

    async def handed_over(call_id: str) -> None:
        raise AssertionError("no call may be handed over by a refused request")

    transfers = Transfers("xa", link, acd, sessions, handed_over)
    return CommandLoop(
        "xa",
        redis,
        transfers,
        bare_runner(link, acd, sessions),
    )


async def _run(loop: CommandLoop, kind: str, **fields: str) -> commands.Reply:
    return await loop.execute(Command("c1", kind, "xa", fields))


async def test_refusals_say_why(
    loop: CommandLoop, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions.begin() as session:
        dept = Department(name="市教育局", number="029-87000014", duty_hours="08:30-17:30")
        session.add(dept)
    cases = [
        (("teleport", {}), "unknown request kind", "invalid"),
        (("conference", {"seat_id": "1001"}), "missing field(s) call_id", "invalid"),
        (
            ("conference", {"call_id": "x", "seat_id": "1001", "number": "12;3"}),
            "不是有效的电话号码",
            "invalid",
        ),
        (
            ("conference", {"call_id": "x", "seat_id": "1001", "department_id": "77"}),
            "unknown department",
            "not_found",
        ),
        (
            ("blind_transfer", {"call_id": "x", "seat_id": "1001", "department_id": str(dept.id)}),
            "不在值班时间",
            "state",
        ),
        (
            ("conference", {"call_id": "x", "seat_id": "nobody", "number": "13800138000"}),
            "nobody",
            "not_found",
        ),
        (
            ("spy", {"seat_id": "1001", "supervisor": "9001\r\nAction: Hangup", "mode": "listen"}),
            "not a softphone id",
            "invalid",
        ),
        (("callback_now", {"task_id": "abc"}), "is not a number", "invalid"),
        (("conference_leave", {"call_id": "x", "seat_id": "1001"}), "no conference", "not_found"),
    ]
    for (kind, fields), why, reason in cases:
        reply = await _run(loop, kind, **fields)
        assert not reply.ok and why in reply.detail, (kind, fields, reply)
        assert reply.fields == {commands.REFUSAL: reason}, (kind, fields, reply)
    assert not loop.transfers.link.sent  # nothing reached the PBX


async def test_requests_are_read_and_answered_over_redis(loop: CommandLoop, redis: Redis) -> None:
    command_id = await commands.submit(redis, "xa", "spy", {"seat_id": "1001"})
    [command] = await commands.read(redis, "xa", loop.consumer, block_ms=100)
    await commands.answer(redis, command, await loop.execute(command))
    reply = await commands.wait_reply(redis, command_id, 1)
    assert (
        reply is not None and not reply.ok and "missing field(s) supervisor, mode" in reply.detail
    )
    assert await commands.read(redis, "xa", loop.consumer, block_ms=100) == []  # acknowledged
