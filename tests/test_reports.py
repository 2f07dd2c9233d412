"""The weekly report's figures, each equal to an independent SQL recount (plain SQL, one count
per figure) over a generated month, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from reports.weekly import WeeklyReport, build_weekly, report_json
from store.base import UTCDateTime
from store.privacy import mask_phone
from tests.reports_support import WEEK, generate_month

NOT_LEG = "(skill IS NULL OR skill <> 'callback')"


async def count(session: AsyncSession, sql: str, **params: Any) -> int:
    """SELECT count(*) FROM <sql>; datetimes bound through the column type of the models."""
    stmt = text(f"SELECT count(*) FROM {sql}")
    typed = [bindparam(k, type_=UTCDateTime) for k, v in params.items() if hasattr(v, "tzinfo")]
    if typed:
        stmt = stmt.bindparams(*typed)
    return int((await session.execute(stmt, params)).scalar_one())


def wait_s(dialect: str) -> str:
    if dialect == "sqlite":
        return "(julianday(answered_at) - julianday(queued_at)) * 86400.0"
    return "extract(epoch from answered_at - queued_at)"


async def check_units(session: AsyncSession, report: WeeklyReport) -> None:
    due = "tickets WHERE lead_unit_id = :u AND due_at >= :s AND due_at < :e AND merged_into_id IS NULL"
    window = {"s": WEEK.start, "e": WEEK.end}
    units = {
        row[0]
        for row in (
            await session.execute(
                text(
                    "SELECT DISTINCT lead_unit_id FROM tickets WHERE lead_unit_id IS NOT NULL "
                    "AND due_at >= :s AND due_at < :e AND merged_into_id IS NULL"
                ).bindparams(bindparam("s", type_=UTCDateTime), bindparam("e", type_=UTCDateTime)),
                window,
            )
        ).all()
    }
    assert {u.unit_id for u in report.units} == units and len(units) == 12
    for u in report.units:
        p = {"u": u.unit_id, **window}
        assert u.tickets == await count(session, due, **p)
        assert u.sign_due == await count(session, due + " AND sign_due_at IS NOT NULL", **p)
        assert u.signed_on_time == await count(session, due + " AND signed_at <= sign_due_at", **p)
        on_time = await count(session, due + " AND replied_at <= due_at", **p)
        assert u.finished_on_time == on_time
        assert u.overdue == await count(
            session, due + " AND (replied_at IS NULL OR replied_at > due_at)", **p
        )
        assert u.visited == await count(session, due + " AND satisfaction IS NOT NULL", **p)
        assert u.satisfied == await count(
            session, due + " AND satisfaction IN ('满意', '基本满意')", **p
        )
        assert u.reopened == await count(session, due + " AND reopen_count > 0", **p)
        returns = 0
        for k in (1, 2):  # returns are 0, 1 or 2 in the generated data
            returns += k * await count(session, due + f" AND returns = {k}", **p)
        assert u.returns == returns
    ranked = [u for u in report.units if u.ranked]
    assert report.red == ranked[:10] and report.black == list(reversed(ranked))[:2]
    assert all(a.score >= b.score for a, b in zip(report.units, report.units[1:], strict=False))


async def check_calls(session: AsyncSession, report: WeeklyReport, dialect: str) -> None:
    week = "call_records WHERE entered_at >= :s AND entered_at < :e AND " + NOT_LEG
    p = {"s": WEEK.start, "e": WEEK.end}
    for c in report.calls.cities:
        city = f" AND city = '{c.city}'"
        assert c.entered == await count(session, week + city, **p)
        assert c.offered == await count(session, week + city + " AND queued_at IS NOT NULL", **p)
        answered = week + city + " AND queued_at IS NOT NULL AND answered_at IS NOT NULL"
        assert c.answered == await count(session, answered, **p)
        in_sl = await count(session, answered + f" AND {wait_s(dialect)} <= 15", **p)
        assert c.answered_in_sl == in_sl
        abandoned = await count(session, week + city + " AND outcome = 'abandoned'", **p)
        assert c.abandoned == abandoned
        assert c.service_level == in_sl / (c.answered + abandoned)
        assert c.abandon_rate == abandoned / c.offered
        overflow = week + " AND answered_at IS NOT NULL AND answer_city <> city"
        assert c.overflow_out == await count(session, overflow + city, **p)
        assert c.overflow_in == await count(
            session, overflow + f" AND answer_city = '{c.city}'", **p
        )
        attempts = (
            f"callback_attempts WHERE started_at >= :s AND started_at < :e AND city = '{c.city}'"
        )
        assert c.callbacks_made == await count(session, attempts, **p)
        assert c.callbacks_connected == await count(
            session, attempts + " AND outcome = 'connected'", **p
        )
        assert c.overflow_out > 0 and c.overflow_in > 0 and c.answered_in_sl < c.answered
    assert report.calls.total.offered == sum(c.offered for c in report.calls.cities)
    offered = week + " AND queued_at IS NOT NULL AND entered_at >= :a AND entered_at < :b"
    # Every day's total, and the busiest day hour by hour (local midnight + hours: no DST).
    for day in range(7):
        a = WEEK.start + timedelta(days=day)
        n = await count(session, offered, a=a, b=a + timedelta(days=1), **p)
        assert sum(report.calls.heat[day]) == n, day
    busiest = max(range(7), key=lambda d: sum(report.calls.heat[d]))
    for hour in range(24):
        a = WEEK.start + timedelta(days=busiest, hours=hour)
        n = await count(session, offered, a=a, b=a + timedelta(hours=1), **p)
        assert report.calls.heat[busiest][hour] == n, hour


async def check_topics(session: AsyncSession, report: WeeklyReport) -> None:
    base = "tickets WHERE merged_into_id IS NULL AND accepted_at >= :s AND accepted_at < :e"
    this = {"s": WEEK.start, "e": WEEK.end}
    before = {"s": WEEK.start - timedelta(weeks=4), "e": WEEK.start}
    for c in report.topics.categories:
        cat = f" AND category = '{c.category}'"
        assert c.this_week == await count(session, base + cat, **this)
        assert c.previous_avg == await count(session, base + cat, **before) / 4
    assert report.topics.categories[0].category == "城乡建设·供暖"  # the surge of the week
    # Clusters: every ticket of the week in exactly one (no sample at this size).
    assert not report.topics.sampled
    assert sum(t.this_week for t in report.topics.topics) == await count(session, base, **this)
    assert report.tickets_accepted == await count(session, base, **this)
    top = report.topics.topics[0]
    assert any("暖气" in term or "供暖" in term for term in top.terms), top.terms
    for t in report.topics.topics:
        for example in t.examples:
            n = await count(session, base + f" AND number = '{example.number}'", **this)
            assert n == 1
        for place, k in t.locations:
            assert k <= await count(session, base + f" AND location = '{place}'", **this)


async def check_callers(session: AsyncSession, report: WeeklyReport) -> None:
    since = WEEK.end - timedelta(days=30)
    window = (
        "call_records WHERE entered_at >= :s AND entered_at < :e AND caller_num <> '' AND "
        + NOT_LEG
    )
    p = {"s": since, "e": WEEK.end}
    grouped = f"(SELECT caller_num FROM {window} GROUP BY caller_num HAVING count(*) >= 3) AS g"
    stmt = text(f"SELECT caller_num FROM {grouped}").bindparams(
        bindparam("s", type_=UTCDateTime), bindparam("e", type_=UTCDateTime)
    )
    numbers = [r[0] for r in (await session.execute(stmt, p)).all()]
    repeat = {n: await count(session, window + f" AND caller_num = '{n}'", **p) for n in numbers}
    assert report.callers.count == len(repeat) >= 5
    assert report.callers.calls == sum(repeat.values())
    assert {c.number: c.calls for c in report.callers.listed} == {
        mask_phone(n): k for n, k in repeat.items()
    }
    rising = next(c for c in report.callers.listed if c.number == mask_phone("13912345678"))
    assert rising.moods == ["平稳", "生气", "焦躁"] and rising.mood_direction == "加剧"
    for caller in report.callers.listed:
        raw = next(n for n in repeat if mask_phone(n) == caller.number)
        rows = await session.execute(
            text(
                "SELECT d.draft FROM call_drafts d JOIN call_records r ON r.call_id = d.call_id "
                "WHERE r.caller_num = :n AND r.entered_at >= :s AND r.entered_at < :e "
                "AND (r.skill IS NULL OR r.skill <> 'callback') "
                "ORDER BY r.entered_at, r.id"
            ).bindparams(bindparam("s", type_=UTCDateTime), bindparam("e", type_=UTCDateTime)),
            {"n": raw, **p},
        )
        drafts = [json.loads(d) if isinstance(d, str) else d for (d,) in rows.all()]
        assert caller.moods == [d["emotion"] for d in drafts]


async def test_weekly_figures_equal_sql_recounts(sessions, engine) -> None:
    await generate_month(sessions)
    async with sessions() as session:
        report = await build_weekly(session, WEEK)
        dialect = engine.dialect.name
        await check_units(session, report)
        await check_calls(session, report, dialect)
        await check_topics(session, report)
        await check_callers(session, report)
    data = report_json(report)
    json.dumps(data, ensure_ascii=False)  # what the API and the documents carry
    assert "本周（2026-11-23 至 2026-11-29）" in data["headline"]


async def test_sampled_clusters_say_what_they_saw(sessions, monkeypatch, tmp_path) -> None:
    """A week too big to cluster whole (SAMPLE lowered to make the month one): the clusters
    see every k-th ticket, scale their counts back up, and the documents say so."""
    from openpyxl import load_workbook

    from reports import document, topics
    from reports.workbook import sample_note

    monkeypatch.setattr(topics, "SAMPLE", 40)
    await generate_month(sessions)
    async with sessions() as session:
        report = await build_weekly(session, WEEK)
        base = "tickets WHERE merged_into_id IS NULL AND accepted_at >= :s AND accepted_at < :e"
        this = await count(session, base, s=WEEK.start, e=WEEK.end)
        before = await count(session, base, s=WEEK.start - timedelta(weeks=4), e=WEEK.start)
    found = report.topics
    assert found.sampled and this > 40 and before > 40
    assert (found.this_total, found.previous_total) == (this, before)
    assert 0 < found.this_clustered <= 40 and 0 < found.previous_clustered <= 40
    step = -(-this // 40)  # every k-th ticket, k = ceil(total / SAMPLE)
    assert sum(t.this_week for t in found.topics) == found.this_clustered * step
    data = report_json(report)
    note = sample_note(data["topics"])
    assert f"本周 {this} 件中取 {found.this_clustered} 件" in note
    book = load_workbook(document.write(data, "xlsx", tmp_path / "w.xlsx"))
    assert note in [row[0] for row in book["聚类热点"].iter_rows(values_only=True)]
