"""The closed loop on a real database: every step written with its audit event, deadlines on
the working-day calendar, units scoped to their own tickets, the overdue and 清零 views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tickets.duplicates import candidates, similarity
from tickets.lifecycle import Action, Command, Role, Satisfaction, WrongRole, WrongState
from tickets.lookup import LookupRefused, lookup
from tickets.loop import Actor, TicketNotFound, UnknownUnit, VisitPolicy, act, history
from tickets.models import Ticket
from tickets.queries import Page, clearance, inbox, overdue, units_of
from tickets.service import create_ticket
from tickets.units import UnitDirectoryError, load_units, seed_units

Sessions = async_sessionmaker[AsyncSession]

# Mon 2025-11-03 10:00 Shanghai (no holiday that week).
ACCEPTED = datetime(2025, 11, 3, 2, tzinfo=UTC)
HOUR = timedelta(hours=1)
DISPATCHER = Actor("调度员甲", Role.DISPATCHER)
VISITOR = Actor("ivr", Role.SYSTEM)


@dataclass(frozen=True)
class Draft:
    category: str = "城乡建设·道路维修"
    request_type: str = "投诉"
    summary: str = "丈八沟街道｜道路维修｜路面塌陷"
    location: str | None = "雁塔区丈八沟街道"
    urgent: bool = False
    department: str | None = None
    tier_days: int = 3


async def _setup(sessions: Sessions, *, enterprise: bool = False) -> tuple[int, dict[str, int]]:
    async with sessions() as s:
        ids = await seed_units(s, load_units())
        ticket = await create_ticket(
            s,
            Draft(),
            call_id="c-loop",
            caller_number="13800001234",
            accepted_at=ACCEPTED,
            enterprise=enterprise,
            visits=VisitPolicy(share=0.0),
        )
    return ticket.id, ids


def cmd(action: Action, actor: Actor, **kw: object) -> Command:
    return Command(action, actor.role, **kw)  # type: ignore[arg-type]


async def test_the_whole_loop_with_a_reopen(sessions: Sessions) -> None:
    tid, units = await _setup(sessions, enterprise=True)
    street = units["雁塔区丈八沟街道"]
    unit = Actor("街道办小王", Role.UNIT, street)
    at = ACCEPTED
    async with sessions() as s:
        t = await act(
            s,
            tid,
            cmd(Action.DISPATCH, DISPATCHER, units=(street, units["市城市管理局"])),
            DISPATCHER,
            now=at + HOUR,
        )
        assert (t.status, t.lead_unit_id) == ("已派单", street)
        # dispatched Mon 11:00: one working day to sign, Tue 17:30 Shanghai
        assert t.sign_due_at == datetime(2025, 11, 4, 9, 30, tzinfo=UTC)
        assert [(u.name, role) for u, role in await units_of(s, tid)] == [
            ("雁塔区丈八沟街道", "主办"),
            ("市城市管理局", "协办"),
        ]
        t = await act(s, tid, cmd(Action.SIGN, unit), unit, now=at + 2 * HOUR)
        # counted from 受理: 3 working days after Monday, Thu 17:30
        assert t.due_at == datetime(2025, 11, 6, 9, 30, tzinfo=UTC)
        t = await act(
            s, tid, cmd(Action.REPLY, unit, reason="已修复塌陷路面"), unit, now=at + 24 * HOUR
        )
        assert (t.status, t.reply) == ("已办结", "已修复塌陷路面")
        with pytest.raises(WrongState, match="须回访"):
            await act(s, tid, cmd(Action.CLOSE, DISPATCHER), DISPATCHER, now=at + 25 * HOUR)
        unhappy = cmd(Action.VISIT, VISITOR, satisfaction=Satisfaction.UNSATISFIED)
        t = await act(s, tid, unhappy, VISITOR, now=at + 26 * HOUR)
        # 重办: same unit, signed already, a new 3-day deadline from Tue 12:00 -> Fri 17:30
        assert (t.status, t.reopen_count, t.lead_unit_id) == ("办理中", 1, street)
        assert t.due_at == datetime(2025, 11, 7, 9, 30, tzinfo=UTC)
        await act(
            s, tid, cmd(Action.REPLY, unit, reason="重新铺设并验收"), unit, now=at + 48 * HOUR
        )
        happy = cmd(Action.VISIT, VISITOR, satisfaction=Satisfaction.SATISFIED)
        t = await act(s, tid, happy, VISITOR, now=at + 49 * HOUR)
        assert (t.status, t.satisfaction) == ("已回访", "满意")
        t = await act(s, tid, cmd(Action.CLOSE, DISPATCHER), DISPATCHER, now=at + 50 * HOUR)
        assert t.status == "已销号" and t.closed_at is not None
        events = await history(s, tid)
    assert [(e.action, e.from_state, e.to_state, e.actor) for e in events] == [
        ("dispatch", "受理", "已派单", "调度员甲"),
        ("sign", "已派单", "办理中", "街道办小王"),
        ("reply", "办理中", "已办结", "街道办小王"),
        ("visit", "已办结", "办理中", "ivr"),
        ("reply", "办理中", "已办结", "街道办小王"),
        ("visit", "已办结", "已回访", "ivr"),
        ("close", "已回访", "已销号", "调度员甲"),
    ]
    assert events[3].detail == {"satisfaction": "不满意", "reopened": True}


async def test_a_unit_sees_and_touches_only_its_own_tickets(sessions: Sessions) -> None:
    tid, units = await _setup(sessions)
    mine, other = units["雁塔区丈八沟街道"], units["碑林区南院门街道"]
    stranger = Actor("别的街道", Role.UNIT, other)
    async with sessions() as s:
        await act(s, tid, cmd(Action.DISPATCH, DISPATCHER, units=(mine,)), DISPATCHER, now=ACCEPTED)
        with pytest.raises(TicketNotFound):
            await act(s, tid, cmd(Action.SIGN, stranger), stranger, now=ACCEPTED)
        assert [t.id for t in await inbox(s, mine)] == [tid]
        assert await inbox(s, other) == []
        seat = Actor("坐席1001", Role.SEAT)
        with pytest.raises(WrongRole):
            await act(s, tid, cmd(Action.SIGN, seat), seat, now=ACCEPTED)
        with pytest.raises(UnknownUnit):
            await act(s, tid, cmd(Action.DISPATCH, DISPATCHER, units=(99999,)), DISPATCHER)
        assert len(await history(s, tid)) == 1  # refused steps write nothing
        other_units = (other, mine)
        t = await act(s, tid, cmd(Action.DISPATCH, DISPATCHER, units=other_units), DISPATCHER)
        assert t.lead_unit_id == other  # 改派 before signing
        assert await inbox(s, mine) == []


async def test_return_and_redispatch_counts_returns_then_supervision(sessions: Sessions) -> None:
    tid, units = await _setup(sessions)
    a, b = units["碑林区"], units["市住房和城乡建设局"]
    ua, ub = Actor("碑林区", Role.UNIT, a), Actor("住建局", Role.UNIT, b)
    not_ours = "不属于本单位职责"
    async with sessions() as s:
        await act(s, tid, cmd(Action.DISPATCH, DISPATCHER, units=(a,)), DISPATCHER, now=ACCEPTED)
        t = await act(s, tid, cmd(Action.RETURN, ua, reason=not_ours), ua, now=ACCEPTED + HOUR)
        assert (t.status, t.returns, t.lead_unit_id) == ("已退单", 1, None)
        await act(
            s, tid, cmd(Action.DISPATCH, DISPATCHER, units=(b,)), DISPATCHER, now=ACCEPTED + HOUR
        )
        await act(s, tid, cmd(Action.SIGN, ub), ub, now=ACCEPTED + HOUR)
        t = await act(s, tid, cmd(Action.RETURN, ub, reason=not_ours), ub, now=ACCEPTED + HOUR)
        assert t.returns == 2
        urge = cmd(Action.SUPERVISE, DISPATCHER, reason="两次退单，请区政府牵头")
        t = await act(s, tid, urge, DISPATCHER, now=ACCEPTED + 2 * HOUR)
        assert (t.supervised, t.status) == (1, "已退单")


async def test_deadline_moves_only_on_approval(sessions: Sessions) -> None:
    tid, units = await _setup(sessions)
    u = units["长安区"]
    unit = Actor("长安区", Role.UNIT, u)
    async with sessions() as s:
        await act(s, tid, cmd(Action.DISPATCH, DISPATCHER, units=(u,)), DISPATCHER, now=ACCEPTED)
        t = await act(s, tid, cmd(Action.SIGN, unit), unit, now=ACCEPTED)
        due = t.due_at
        ask = cmd(Action.REQUEST_EXTENSION, unit, reason="需多部门会商", extension_days=5)
        t = await act(s, tid, ask, unit, now=ACCEPTED + HOUR)
        assert (t.due_at, t.extension_days) == (due, 5)
        no = cmd(Action.DECIDE_EXTENSION, DISPATCHER, approve=False)
        t = await act(s, tid, no, DISPATCHER, now=ACCEPTED + HOUR)
        assert (t.due_at, t.extension_days) == (due, 0)
        await act(s, tid, ask, unit, now=ACCEPTED + HOUR)
        yes = cmd(Action.DECIDE_EXTENSION, DISPATCHER, approve=True, extension_days=5)
        t = await act(s, tid, yes, DISPATCHER, now=ACCEPTED + HOUR)
    # Thu 6 Nov + 5 working days = Thu 13 Nov, 17:30 Shanghai
    assert t.due_at == datetime(2025, 11, 13, 9, 30, tzinfo=UTC)


async def test_overdue_and_clearance_views(sessions: Sessions) -> None:
    tid, units = await _setup(sessions)
    u = units["未央区"]
    async with sessions() as s:
        await act(s, tid, cmd(Action.DISPATCH, DISPATCHER, units=(u,)), DISPATCHER, now=ACCEPTED)
        second = await create_ticket(
            s, Draft(), call_id="c2", caller_number="13900000000", accepted_at=ACCEPTED
        )
        third = await create_ticket(
            s, Draft(), call_id="c3", caller_number="13900000001", accepted_at=ACCEPTED
        )
        direct = cmd(Action.DIRECT_ANSWER, Actor("坐席", Role.SEAT), reason="已告知办理流程")
        await act(s, third.id, direct, Actor("坐席", Role.SEAT), now=ACCEPTED)
        # Tue 17:29 Shanghai: the sign window (Mon + 1 working day) has not ended yet
        assert await overdue(s, datetime(2025, 11, 4, 9, 29, tzinfo=UTC)) == []
        late = await overdue(s, datetime(2025, 11, 4, 9, 31, tzinfo=UTC))
        assert [t.id for t in late] == [tid]
        assert await overdue(s, datetime(2025, 11, 4, 9, 31, tzinfo=UTC), unit_id=u + 1) == []
        rows = await clearance(
            s, datetime(2025, 12, 1, tzinfo=UTC), datetime(2025, 11, 5, tzinfo=UTC)
        )
    by_unit = {r.unit_name: (r.open, r.overdue) for r in rows}
    # the dispatched one is overdue at its unit; the undispatched one and the direct answer
    # (still open until 销号) count under 未派单
    assert by_unit == {"未央区": (1, 1), "未派单": (2, 0)}
    assert second.status == "受理"


async def test_pagination_is_bounded(sessions: Sessions) -> None:
    with pytest.raises(ValueError, match="limit"):
        Page(limit=0)
    with pytest.raises(ValueError, match="limit"):
        Page(limit=501)


def test_a_visit_share_is_stable_and_near_its_rate() -> None:
    policy = VisitPolicy(share=0.3)
    drawn = [policy.required(f"20251103{i:06d}", False) for i in range(10_000)]
    assert drawn == [policy.required(f"20251103{i:06d}", False) for i in range(10_000)]
    assert 0.27 < sum(drawn) / len(drawn) < 0.33
    assert policy.required("x", True)


def test_the_unit_file_is_checked(tmp_path) -> None:
    assert {u.level for u in load_units()} == {"市", "县区", "乡镇街道"}
    bad = tmp_path / "units.yaml"
    bad.write_text("- {name: 某街道, level: 乡镇街道}\n", encoding="utf-8")
    with pytest.raises(UnitDirectoryError, match="needs a parent"):
        load_units(bad)
    bad.write_text('- {name: "甲\\r\\n乙", level: 市}\n', encoding="utf-8")
    with pytest.raises(UnitDirectoryError, match="one line"):
        load_units(bad)


async def test_tickets_table_keeps_its_columns(sessions: Sessions) -> None:
    tid, _ = await _setup(sessions)
    async with sessions() as s:
        t = await s.get(Ticket, tid)
    assert t is not None and t.returns == 0 and t.extension_days == 0 and not t.visited


async def test_duplicates_are_offered_and_merged(sessions: Sessions) -> None:
    tid, _ = await _setup(sessions)
    async with sessions() as s:
        first = await s.get(Ticket, tid)
        assert first is not None
        same_place = await create_ticket(
            s,
            Draft(summary="丈八沟街道｜道路维修｜路面塌陷很危险"),
            call_id="c-dup",
            caller_number="13900009999",
            accepted_at=ACCEPTED + HOUR,
        )
        same_caller_other_matter = await create_ticket(
            s,
            Draft(category="交通·公交", summary="公交车不靠站", location="小寨"),
            call_id="c-other",
            caller_number="13800001234",
            accepted_at=ACCEPTED + HOUR,
        )
        found = await candidates(s, same_place)
        assert [(c.ticket.id, c.reasons) for c in found] == [(tid, ("同一地点", "内容相似"))]
        assert await candidates(s, same_caller_other_matter) == []
        merge = cmd(Action.MERGE, DISPATCHER, into=tid)
        merged = await act(s, same_place.id, merge, DISPATCHER, now=ACCEPTED + 2 * HOUR)
        assert (merged.status, merged.merged_into_id) == ("已销号", tid)
        with pytest.raises(TicketNotFound, match="目标工单"):
            await act(
                s,
                same_caller_other_matter.id,
                cmd(Action.MERGE, DISPATCHER, into=same_place.id),
                DISPATCHER,
            )
        # a merged (closed) ticket is no candidate any more
        assert [c.ticket.id for c in await candidates(s, first)] == []


def test_similarity_reads_chinese_without_spaces() -> None:
    assert similarity("小区门口路灯不亮", "小区门口的路灯不亮了") > 0.5
    assert similarity("小区门口路灯不亮", "公交车不靠站") == 0.0
    assert similarity("", "x") == 0.0


async def test_citizen_lookup_needs_the_number_and_last_four_digits(sessions: Sessions) -> None:
    tid, units = await _setup(sessions)
    u = units["雁塔区丈八沟街道"]
    unit = Actor("街道", Role.UNIT, u)
    async with sessions() as s:
        t = await s.get(Ticket, tid)
        assert t is not None and t.number is not None
        number = t.number
        assert await lookup(s, number, "0000") is None
        seen = await lookup(s, number, "1234")
        assert seen is not None and (seen.status, seen.unit, seen.reply) == ("已受理", None, None)
        await act(s, tid, cmd(Action.DISPATCH, DISPATCHER, units=(u,)), DISPATCHER, now=ACCEPTED)
        await act(s, tid, cmd(Action.SIGN, unit), unit, now=ACCEPTED)
        await act(s, tid, cmd(Action.REPLY, unit, reason="已修复"), unit, now=ACCEPTED)
        seen = await lookup(s, number, "1234")
        assert seen is not None and (seen.status, seen.unit, seen.reply) == (
            "已办结",
            "雁塔区丈八沟街道",
            "已修复",
        )
        assert "13800001234" not in repr(seen)
        for bad in (("1; DROP", "1234"), (number, "12a4"), (number, "12345")):
            with pytest.raises(LookupRefused):
                await lookup(s, *bad)
        assert await lookup(s, "99999999", "1234") is None
