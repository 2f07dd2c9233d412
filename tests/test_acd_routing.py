"""ACD routing rules on real Redis (embedded and server)."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from acd.queue import overflow
from acd.queue.service import Acd
from acd.queue.types import InvalidTransition, SeatNotFound, SeatSpec, SeatState, Skill
from store import keys


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def acd(redis: Redis, clock: Clock) -> Acd:
    return Acd(
        redis,
        cities=("xa", "xy", "bj"),
        trunks={"xa": "trunk-xa", "xy": "trunk-xy", "bj": "trunk-bj"},
        clock=clock,
    )


async def seat(
    acd: Acd,
    clock: Clock,
    seat_id: str,
    city: str = "xa",
    skills: dict[Skill, int] | None = None,
    ready: bool = True,
) -> None:
    await acd.login(SeatSpec(seat_id, city, skills or {Skill.general: 1}, f"PJSIP/{seat_id}"))
    if ready:
        await acd.ready(seat_id)
        clock.advance(1)


async def test_longest_idle_ready_seat_gets_the_head_caller(acd: Acd, clock: Clock) -> None:
    await seat(acd, clock, "1001")
    await seat(acd, clock, "1002")
    await seat(acd, clock, "1003", skills={Skill.enterprise: 1})
    await acd.enqueue("c1", "xa", Skill.general)
    d = await acd.route("xa", Skill.general)
    assert d is not None and (d.call_id, d.seat_id, d.dial_string) == ("c1", "1001", "PJSIP/1001")
    assert not d.overflowed and d.ring == 1
    assert (await acd.seat("1001")).state is SeatState.ringing
    assert await acd.queue_length("xa", Skill.general) == 0
    await acd.enqueue("c2", "xa", Skill.general)
    d2 = await acd.route("xa", Skill.general)
    assert d2 is not None and d2.seat_id == "1002"  # 1001 is taken, 1003 lacks the skill
    await acd.enqueue("c3", "xa", Skill.general)
    assert await acd.route("xa", Skill.general) is None
    assert await acd.position("c3") == 1


async def test_priority_then_arrival(acd: Acd, clock: Clock) -> None:
    await acd.enqueue("early", "xa", Skill.general)
    clock.advance(5)
    await acd.enqueue("repeat", "xa", Skill.general, priority=5)
    clock.advance(5)
    await acd.enqueue("late", "xa", Skill.general)
    assert [w.call_id for w in await acd.waiting("xa", Skill.general)] == [
        "repeat",
        "early",
        "late",
    ]
    with pytest.raises(ValueError, match="priority"):
        await acd.enqueue("bad", "xa", Skill.general, priority=10)


async def test_missed_ring_keeps_the_callers_place_and_pauses_the_seat(
    acd: Acd, clock: Clock
) -> None:
    await seat(acd, clock, "1001")
    await acd.enqueue("first", "xa", Skill.general)
    clock.advance(2)
    await acd.enqueue("second", "xa", Skill.general)
    d = await acd.route("xa", Skill.general, ring_timeout_s=10)
    assert d is not None and d.call_id == "first"
    clock.advance(10 + 4)
    assert await acd.expire_rings() == []  # not yet: the dialplan reports a missed ring itself
    clock.advance(2)
    [released] = await acd.expire_rings()
    assert (released.call_id, released.seat_id) == ("first", "1001")
    assert [w.call_id for w in await acd.waiting("xa", Skill.general)] == ["first", "second"]
    view = await acd.seat("1001")
    assert view.state is SeatState.paused and view.reason == "未接来电"
    assert await acd.route("xa", Skill.general) is None  # the paused seat is not offered again


async def test_seat_result_noanswer_releases_at_once(acd: Acd, clock: Clock) -> None:
    await seat(acd, clock, "1001")
    await seat(acd, clock, "1002")
    await acd.enqueue("c1", "xa", Skill.general)
    d = await acd.route("xa", Skill.general)
    assert d is not None
    await acd.seat_missed("c1")
    d2 = await acd.route("xa", Skill.general)
    assert d2 is not None and (d2.call_id, d2.seat_id) == ("c1", "1002")


async def test_logout_while_ringing(acd: Acd, clock: Clock) -> None:
    await seat(acd, clock, "1001")
    await acd.enqueue("c1", "xa", Skill.general)
    await acd.route("xa", Skill.general)
    released = await acd.logout("1001")
    assert [r.call_id for r in released] == ["c1"]
    assert (await acd.seat("1001")).state is SeatState.offline
    assert await acd.position("c1") == 1
    assert await acd.expire_rings() == []  # nothing left ringing


async def test_caller_hangs_up_while_the_seat_rings(acd: Acd, clock: Clock) -> None:
    await seat(acd, clock, "1001")
    await seat(acd, clock, "1002")
    await acd.enqueue("c1", "xa", Skill.general)
    d = await acd.route("xa", Skill.general)
    assert d is not None and d.seat_id == "1001"
    clock.advance(3)
    assert await acd.ended("c1") == ("abandoned_ringing", "1001")
    assert (await acd.seat("1001")).state is SeatState.ready
    await acd.enqueue("c2", "xa", Skill.general)
    d2 = await acd.route("xa", Skill.general)
    assert d2 is not None and d2.seat_id == "1001"  # kept its idle time: still the longest idle
    with pytest.raises(InvalidTransition):
        await acd.answered("c1")


async def test_answer_talk_wrapup_ready(acd: Acd, clock: Clock) -> None:
    await seat(acd, clock, "1001")
    await acd.enqueue("c1", "xa", Skill.general)
    await acd.route("xa", Skill.general)
    assert await acd.answered("c1") == "1001"
    assert (await acd.seat("1001")).state is SeatState.busy
    with pytest.raises(InvalidTransition):
        await acd.pause("1001", "小休")
    with pytest.raises(InvalidTransition):
        await acd.logout("1001")
    clock.advance(60)
    assert await acd.ended("c1", wrapup_s=20) == ("completed", "1001")
    assert (await acd.seat("1001")).state is SeatState.wrapup
    clock.advance(10)
    assert await acd.finish_wrapups() == []
    clock.advance(11)
    assert await acd.finish_wrapups() == ["1001"]
    assert (await acd.seat("1001")).state is SeatState.ready


async def test_wrapup_counts_across_skills_and_can_end_early(acd: Acd, clock: Clock) -> None:
    await seat(acd, clock, "1001", skills={Skill.general: 1, Skill.enterprise: 2})
    await acd.enqueue("c1", "xa", Skill.enterprise)
    await acd.route("xa", Skill.enterprise)
    await acd.answered("c1")
    await acd.ended("c1", wrapup_s=30)
    await acd.enqueue("c2", "xa", Skill.general)
    assert await acd.route("xa", Skill.general) is None  # in wrap-up for every queue it serves
    await acd.end_wrapup("1001")
    d = await acd.route("xa", Skill.general)
    assert d is not None and d.seat_id == "1001"


async def test_abandon_while_waiting_and_unknown(acd: Acd) -> None:
    await acd.enqueue("c1", "xa", Skill.general)
    assert await acd.ended("c1") == ("abandoned", "")
    assert await acd.queue_length("xa", Skill.general) == 0
    assert await acd.ended("nope") == ("unknown", "")


async def test_bad_seat_requests(acd: Acd, clock: Clock) -> None:
    with pytest.raises(SeatNotFound):
        await acd.ready("9999")
    await seat(acd, clock, "1001")
    with pytest.raises(ValueError, match="小休"):
        await acd.pause("1001", "打游戏")
    await acd.pause("1001", "就餐")
    view = await acd.seat("1001")
    assert view.state is SeatState.paused and view.reason == "就餐"


async def test_overflow_rings_open_after_the_wait(acd: Acd, clock: Clock, redis: Redis) -> None:
    await overflow.configure(
        redis,
        "xa",
        ("xy", "bj"),
        overflow.OverflowRule(
            wait_s=30, ewt_s=None, callers_per_ready=None, all_cities_wait_s=None
        ),
    )
    await seat(acd, clock, "2001", city="xy")
    await seat(acd, clock, "3001", city="bj")
    await acd.enqueue("c1", "xa", Skill.general)
    assert await acd.route("xa", Skill.general) is None  # only 10-ish seconds: own city only
    clock.advance(31)
    d = await acd.route("xa", Skill.general)
    assert d is not None and (d.seat_id, d.seat_city, d.ring) == ("2001", "xy", 2)
    assert d.overflowed and d.dial_string == "PJSIP/2001@trunk-xy"
    assert (await acd.call_info("c1"))["overflowed"] == "1"


async def test_dispatcher_switches_overflow(acd: Acd, clock: Clock, redis: Redis) -> None:
    rule = overflow.OverflowRule(
        wait_s=0, ewt_s=None, callers_per_ready=None, all_cities_wait_s=None
    )
    await overflow.configure(redis, "xa", ("xy",), rule)
    await seat(acd, clock, "3001", city="bj")
    await acd.enqueue("c1", "xa", Skill.general)
    assert await acd.route("xa", Skill.general) is None  # bj is not a helper
    assert await overflow.add_helper(redis, "xa", "bj") == ("xy", "bj")
    await overflow.set_enabled(redis, "xa", False)
    assert await acd.route("xa", Skill.general) is None  # switched off
    await overflow.set_enabled(redis, "xa", True)
    d = await acd.route("xa", Skill.general)
    assert d is not None and d.seat_id == "3001"
    assert await overflow.remove_helper(redis, "xa", "bj") == ("xy",)
    with pytest.raises(ValueError):
        await overflow.add_helper(redis, "xa", "xa")


async def test_ring_three_reaches_every_city(acd: Acd, clock: Clock, redis: Redis) -> None:
    rule = overflow.OverflowRule(
        wait_s=10, ewt_s=None, callers_per_ready=None, all_cities_wait_s=60
    )
    await overflow.configure(redis, "xa", ("xy",), rule)
    await seat(acd, clock, "3001", city="bj")
    await acd.enqueue("c1", "xa", Skill.general)
    clock.advance(20)
    assert await acd.route("xa", Skill.general) is None
    clock.advance(50)
    d = await acd.route("xa", Skill.general)
    assert d is not None and d.ring == 3 and d.seat_city == "bj"


async def test_own_city_first_even_when_a_partner_seat_is_idler(
    acd: Acd, clock: Clock, redis: Redis
) -> None:
    await overflow.configure(redis, "xa", ("xy",), overflow.OverflowRule(wait_s=0))
    await seat(acd, clock, "2001", city="xy")  # idle longer
    await seat(acd, clock, "1001", city="xa")
    await acd.enqueue("c1", "xa", Skill.general)
    d = await acd.route("xa", Skill.general)
    assert d is not None and d.seat_id == "1001" and not d.overflowed


async def test_keys_share_one_hash_tag(acd: Acd, clock: Clock, redis: Redis) -> None:
    await seat(acd, clock, "1001")
    await acd.enqueue("c1", "xa", Skill.general)
    await acd.route("xa", Skill.general)
    names = [k async for k in redis.scan_iter("hl:*")]
    acd_keys = [k for k in names if ":{acd}:" in k]
    assert acd_keys and len(acd_keys) == len(names)
    assert keys.acd_seat("1001") in names and keys.ACD_RINGING in names


async def test_overflow_by_callers_per_ready_seat_and_by_ewt(
    acd: Acd, clock: Clock, redis: Redis
) -> None:
    rule = overflow.OverflowRule(
        wait_s=None, ewt_s=100, callers_per_ready=2, all_cities_wait_s=None
    )
    await overflow.configure(redis, "xa", ("xy",), rule)
    await seat(acd, clock, "2001", city="xy")
    await acd.enqueue("c1", "xa", Skill.general)
    assert await acd.route("xa", Skill.general) is None  # 1 caller, no ready seat: below 2
    await acd.enqueue("c2", "xa", Skill.general)
    d = await acd.route("xa", Skill.general)  # 2 callers per (zero) ready seats
    assert d is not None and d.call_id == "c1" and d.seat_city == "xy"
    await seat(acd, clock, "2002", city="xy")
    assert await acd.route("xa", Skill.general, ewt_s=99) is None
    d2 = await acd.route("xa", Skill.general, ewt_s=100)
    assert d2 is not None and d2.call_id == "c2" and d2.overflowed
