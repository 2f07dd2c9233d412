"""A generated month of tickets, calls, callbacks and drafts for the report tests: five ISO
weeks up to 2026-W48 (this week and the previous four), deterministic (seeded), with the edge
cases put in on purpose (a call at the week's first instant and one at its end, a wait of
exactly 15 s, merged tickets, callback legs, overflow both ways, a caller whose mood rises)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks.tables import CallbackAttempt, CallbackTask
from acd.calls.tables import CallRecord
from asr.models import CallDraft
from reports.period import week_of
from tickets.models import Ticket, Unit

WEEK = week_of("2026-W48")
SINCE = WEEK.start - timedelta(weeks=4)
CITIES = ("xa", "xy")
# Matters and the words callers use for them; 供暖 surges in the report's week.
TOPICS = {
    "城乡建设·供暖": [
        "小区暖气不热室温只有十几度",
        "供暖管道漏水暖气片冰凉",
        "暖气停了家里老人受冻",
    ],
    "交通运输·公交": ["公交车到站不停司机绕行", "公交线路调整后站点太远", "公交车班次太少等车太久"],
    "环境保护·噪音": ["夜间工地施工噪音扰民", "广场舞音响噪音太大", "酒吧噪音影响休息"],
    "市场监管·消费": [
        "商家拒绝退款预付卡跑路",
        "网购商品质量问题商家不退",
        "超市价格标签与结账不符",
    ],
    "社会保障·医保": ["医保卡异地报销怎么办理", "医保个人账户余额查询", "医保缴费年限怎么查询"],
}
PLACES = ["雁塔区丈八沟街道", "碑林区南院门街道", "未央区张家堡街道", "莲湖区北院门街道", None]
MOODS_RISING = ["平稳", "生气", "焦躁"]  # the seed documents' example 专报 caller


def _at(rng: random.Random, since: datetime, until: datetime) -> datetime:
    span = (until - since).total_seconds()
    return since + timedelta(seconds=rng.uniform(0, span - 1))


def _units() -> list[dict[str, object]]:
    return [
        {
            "id": i,
            "name": f"测试承办单位{i:02d}",
            "level": "市" if i < 6 else "县区",
            "parent_id": None,
        }
        for i in range(1, 13)
    ]


def _ticket(rng: random.Random, tid: int, accepted: datetime, category: str) -> dict[str, object]:
    due = accepted + timedelta(days=rng.choice([1, 3, 7]), hours=rng.randint(0, 10))
    sign_due = accepted + timedelta(days=1) if rng.random() < 0.9 else None
    signed = accepted + timedelta(hours=rng.uniform(1, 40)) if rng.random() < 0.85 else None
    replied = accepted + timedelta(days=rng.uniform(0.5, 9)) if rng.random() < 0.8 else None
    return {
        "id": tid,
        "number": f"T{tid:08d}",
        "call_id": f"call-t{tid}",
        "caller_number": f"139{rng.randint(0, 99999999):08d}",
        "category": category,
        "request_type": "投诉",
        "summary": rng.choice(TOPICS[category]),
        "location": rng.choice(PLACES),
        "tier_days": 3,
        "accepted_at": accepted,
        "due_at": due,
        "status": "已办结" if replied else "办理中",
        "lead_unit_id": rng.randint(1, 12) if rng.random() < 0.95 else None,
        "sign_due_at": sign_due,
        "signed_at": signed,
        "replied_at": replied,
        "satisfaction": rng.choice(["满意", "基本满意", "不满意", None, None]) if replied else None,
        "returns": rng.choice([0, 0, 0, 1, 2]),
        "reopen_count": rng.choice([0, 0, 0, 0, 1]),
        "merged_into_id": None,
        "updated_at": accepted,
    }


def tickets(rng: random.Random) -> list[dict[str, object]]:
    rows = []
    for tid in range(1, 901):
        accepted = _at(rng, SINCE, WEEK.end)
        weights = [6 if accepted >= WEEK.start else 1, 2, 2, 2, 2]
        category = rng.choices(list(TOPICS), weights=weights)[0]
        rows.append(_ticket(rng, tid, accepted, category))
    for row in rng.sample(rows[100:], 30):  # duplicates merged into an earlier ticket
        row["merged_into_id"], row["status"] = int(row["id"]) - 50, "已销号"  # type: ignore[call-overload]
    return rows


def _call(rng: random.Random, n: int, entered: datetime, caller: str) -> dict[str, object]:
    city = rng.choice(CITIES)
    row: dict[str, object] = {
        "call_id": f"call-{n}",
        "city": city,
        "caller_num": caller,
        "skill": "general",
        "ivr_path": "1",
        "entered_at": entered,
        "queued_at": None,
        "answered_at": None,
        "ended_at": entered + timedelta(seconds=30),
        "seat_id": None,
        "answer_city": None,
        "overflowed": False,
        "outcome": "ivr_hangup",
    }
    if rng.random() < 0.1:
        return row
    queued = entered + timedelta(seconds=rng.uniform(5, 20))
    row["queued_at"] = queued
    wait = rng.choice([rng.uniform(0, 14.9), rng.uniform(15.1, 90), 15.0])
    if rng.random() < 0.75:
        other = rng.random() < 0.15
        row.update(
            answered_at=queued + timedelta(seconds=wait),
            ended_at=queued + timedelta(seconds=wait + 120),
            seat_id="1001",
            answer_city=(CITIES[1] if city == CITIES[0] else CITIES[0]) if other else city,
            overflowed=other,
            outcome="completed",
        )
    else:
        row["outcome"] = "abandoned"
    return row


def calls(rng: random.Random) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    repeaters = [f"1380000{i:04d}" for i in range(12)]
    rows, drafts = [], []
    for n in range(1600):
        caller = rng.choice(repeaters) if rng.random() < 0.06 else f"137{rng.randint(0, 10**8):08d}"
        rows.append(_call(rng, n, _at(rng, SINCE, WEEK.end), caller))
    # The week's edges: the first instant counts, the end does not.
    for n, at in (
        (5000, WEEK.start),
        (5001, WEEK.end - timedelta(microseconds=1)),
        (5002, WEEK.end),
    ):
        rows.append(_call(rng, n, at, f"136{n:08d}"))
    # A repeat caller whose mood rises call by call, and a callback leg that is not an offer.
    for i, mood in enumerate(MOODS_RISING):
        at = WEEK.start + timedelta(days=2 * i, hours=3)
        rows.append(_call(rng, 6000 + i, at, "13912345678"))
        drafts.append({"call_id": f"call-{6000 + i}", "draft": {"emotion": mood}, "source": "asr"})
    leg = _call(rng, 7000, WEEK.start + timedelta(hours=30), "13912345678")
    leg.update(skill="callback", ivr_path="callback", outcome="callback")
    rows.append(leg)
    for row in rows[:1600]:
        if row["caller_num"] in repeaters and rng.random() < 0.7:
            drafts.append(
                {
                    "call_id": row["call_id"],
                    "draft": {"emotion": rng.choice(["平稳", "焦躁", "满意"])},
                    "source": "asr",
                }
            )
    return rows, drafts


def callbacks(rng: random.Random) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    tasks, attempts = [], []
    for i in range(1, 121):
        created = _at(rng, SINCE, WEEK.end)
        tasks.append(
            {
                "id": i,
                "number": f"1350000{i:04d}",
                "city": rng.choice(CITIES),
                "skill": "general",
                "source": "abandoned",
                "created_at": created,
                "status": "done",
                "attempts": 1,
            }
        )
        for a in range(1, rng.randint(1, 3) + 1):
            attempts.append(
                {
                    "task_id": i,
                    "attempt": a,
                    "key": f"cb-{i}-{a}",
                    "city": tasks[-1]["city"],
                    "seat_id": "1001",
                    "started_at": created + timedelta(minutes=10 * a),
                    "outcome": rng.choice(["connected", "noanswer", "busy", None]),
                }
            )
    return tasks, attempts


async def generate_month(sessions: async_sessionmaker[AsyncSession], seed: int = 18) -> None:
    rng = random.Random(seed)
    call_rows, drafts = calls(rng)
    tasks, attempts = callbacks(rng)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    async with sessions.begin() as session:
        await session.execute(insert(Unit), _units())
        await session.execute(insert(Ticket), tickets(rng))
        await session.execute(insert(CallRecord), call_rows)
        await session.execute(
            insert(CallDraft), [{**d, "created_at": now, "updated_at": now} for d in drafts]
        )
        await session.execute(insert(CallbackTask), tasks)
        await session.execute(insert(CallbackAttempt), attempts)
