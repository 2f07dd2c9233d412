"""The outbound-number policy (toll fraud): what a seat may bring into a call and what a
callback may dial, on real Redis and real databases; nothing may reach the PBX when refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks import store as callback_store
from acd.callbacks import tasks as callbacks
from acd.calls.dialable import NotDialable, OutboundPolicy, normalize
from acd.calls.transfers import Transfers
from acd.commands.loop import CommandLoop
from acd.commands.stream import REFUSAL, Command
from acd.queue.service import Acd
from acd.queue.types import SeatSpec, Skill
from hotline.settings import ConfigError, load_settings
from pbx.link import AmiLink
from tests.calls_harness import bare_runner
from tickets.models import Department

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: callback hours


@pytest.mark.parametrize(
    "number",
    [
        "13800138000",
        "138 0013 8000",
        "+8613800138000",
        "02988886666",
        "0571-87000004",
        "+86 29 8888 6666",
    ],
)
def test_domestic_numbers_pass(number: str) -> None:
    assert OutboundPolicy().check(number).isdigit()


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("0088216000000", "国际号码"),  # satellite: the toll-fraud example
        ("00441234567890", "国际号码"),
        ("+441234567890", "不是有效的电话号码"),
        ("95588", "不在允许外呼"),  # short service / premium
        ("96123", "不在允许外呼"),
        ("12345", "不在允许外呼"),
        ("110", "不在允许外呼"),
        ("1380013800", "不在允许外呼"),  # a digit short
        ("12;3", "不是有效的电话号码"),
        ("", "不是有效的电话号码"),
    ],
)
def test_other_numbers_are_refused_with_a_reason(number: str, why: str) -> None:
    with pytest.raises(NotDialable, match=why):
        OutboundPolicy().check(number)


def test_listed_patterns_and_directory_numbers_pass() -> None:
    policy = OutboundPolicy((r"1[3-9]\d{9}", r"95\d{3}"))
    assert policy.check("95588") == "95588"
    with pytest.raises(NotDialable):
        policy.check("02988886666")  # fixed lines are no longer listed
    assert policy.check("029-8888 6666", trusted=["02988886666"]) == "02988886666"
    assert normalize("+86 29 8888 6666") == "02988886666"


def test_settings_take_the_patterns_and_refuse_bad_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().outbound.policy().reason("0088216000000") is not None
    monkeypatch.setenv("HOTLINE_OUTBOUND__ALLOW", '["95[0-9]{3}"]')
    assert load_settings().outbound.policy().reason("95588") is None
    for bad in ('["("]', '[".*"]'):
        monkeypatch.setenv("HOTLINE_OUTBOUND__ALLOW", bad)
        with pytest.raises(ConfigError, match="outbound"):
            load_settings()


@pytest.fixture
def link() -> AmiLink:
    return AmiLink("xa", "127.0.0.1", 1, "u", "s")  # never connected: nothing may be sent


async def test_a_seat_cannot_bring_an_international_number_into_a_call(
    redis: Redis, sessions: async_sessionmaker[AsyncSession], link: AmiLink
) -> None:
    acd = Acd(redis, cities=("xa",))

    async def handed_over(call_id: str) -> None:
        raise AssertionError("nothing may be handed over")

    transfers = Transfers("xa", link, acd, sessions, handed_over)
    loop = CommandLoop(
        "xa",
        redis,
        transfers,
        bare_runner(link, acd, sessions),
    )
    async with sessions.begin() as session:
        session.add(Department(name="卫星办", number="0088216000001", duty_hours="00:00-24:00"))
    for kind in ("conference", "blind_transfer"):
        fields = {"call_id": "xa-1", "seat_id": "1001", "number": "0088216000000"}
        reply = await loop.execute(Command("c1", kind, "xa", fields))
        assert not reply.ok and "国际号码" in reply.detail, reply
        assert reply.fields == {REFUSAL: "invalid"}
    # The directory is what the admin set up: its numbers are trusted.
    target = await transfers.target(None, "0088216000001")
    assert target.number == "0088216000001"
    assert not link.sent


async def test_a_callback_to_a_number_the_policy_refuses_is_recorded_not_dialled(
    redis: Redis, sessions: async_sessionmaker[AsyncSession], link: AmiLink
) -> None:
    acd = Acd(redis, cities=("xa",), clock=lambda: int(T0.timestamp() * 1000))
    await acd.login(SeatSpec("2001", "xa", {Skill.callback: 1}, "PJSIP/2001"))
    await acd.ready("2001")
    runner = bare_runner(link, acd, sessions)
    bad = await callbacks.create(
        sessions,
        number="0088216000000",
        city="xa",
        skill="general",
        source="abandoned",
        call_id="xa-fraud",
        waited_s=30.0,
        at=T0,
    )
    assert bad is not None
    await runner._try(bad, T0)
    row = await callback_store.task(sessions, bad.id)
    assert row is not None and row.status == "failed" and row.attempts == 0
    assert row.reason is not None and "国际号码" in row.reason
    assert await callback_store.attempts(sessions, bad.id) == []
    assert (await acd.seat("2001")).state.value == "ready"  # no seat was reserved for it
    assert not link.sent
