"""The call journal: its generated hangup handler, the parser of its entries, and the writing
of records and callbacks for calls no controller saw (chaos row controller_kill's `unseen`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks.tables import CallbackTask
from acd.calls import journal, records
from acd.calls.tables import CallOffer, CallRecord
from ivr.compile import TARGET
from ivr.journal import compile_journal
from pbx import actions as act
from pbx import journal as pj
from sim import dialplan

NOW = 1_796_540_100  # 2026-12-06 06:55 UTC
HOUR = "2026120606"
CHANNEL_VARS = {
    "CITY": "xa",
    "HL_CALLID": "xa-1796540000.7",
    "HL_ARRIVAL": "1796540000",
    "HL_STAGE": "wait",
    "WAIT_START": "1796540010",
    "SKILL": "general",
    "HL_PATH": "1",
}


def _walk(
    extra: dict[str, str], caller: str = "13800001234", astdb: dict[str, str] | None = None
) -> dialplan.Call:
    call = dialplan.Call(
        vars={**CHANNEL_VARS, **extra}, caller=caller, clock=NOW, astdb=astdb or {}
    )
    dialplan.walk(dialplan.load(), call, "hl-journal")
    return call


# --- the hangup handler, as generated and committed --------------------------------------
def test_the_handler_is_in_the_committed_ivr_file_and_pushed_in_from_pstn() -> None:
    assert compile_journal() in TARGET.read_text(encoding="utf-8")
    conf = (TARGET.parent / "extensions.conf").read_text(encoding="utf-8")
    assert "Set(CHANNEL(hangup_handler_push)=hl-journal,s,1)" in conf
    modules = (TARGET.parent / "modules.conf").read_text(encoding="utf-8")
    assert "load => app_db.so" in modules  # DBdeltree


def test_a_caller_who_gave_up_waiting_is_journalled() -> None:
    call = _walk({})
    assert call.end == "returned"
    assert call.astdb == {
        f"hlj/xa/{HOUR}/xa-1796540000.7": "wait:1796540000:1796540100:1796540010:general:1:::"
        "13800001234"
    }
    [entry], skipped = pj.parse_tree(
        [{"Event": "DBGetTreeResponse", "Key": f"/{k}", "Val": v} for k, v in call.astdb.items()]
    )
    assert skipped == []
    assert (entry.stage, entry.wait_start, entry.talk, entry.caller) == (
        "wait",
        1_796_540_010,
        None,
        "13800001234",
    )


def test_an_answered_call_carries_its_seat_and_talk_time() -> None:
    # ANSWEREDTIME is the caller's up time (app_dial.c): the journal takes the seat's answer
    answered = {"SEAT": "PJSIP/1001", "DIALSTATUS": "ANSWER", "ANSWEREDTIME": "99"}
    call = _walk({**answered, "HL_ANSWERED": str(NOW - 42)})
    [value] = call.astdb.values()
    entry = pj.parse_entry(f"/hlj/xa/{HOUR}/xa-1796540000.7", value)
    assert (entry.stage, entry.seat, entry.talk) == ("answered", "PJSIP/1001", 42)
    # a seat rung without an answer leaves its DIALSTATUS: the stage stays the dialplan's
    call = _walk({"HL_STAGE": "seat", "SEAT": "PJSIP/1001", "DIALSTATUS": "NOANSWER"})
    assert next(iter(call.astdb.values())).startswith("seat:")


def test_the_callers_number_is_kept_to_its_digits_and_never_expanded() -> None:
    """A number from the carrier holding `:` would shift the fields; one holding `$[...]` is
    text to Asterisk (a substituted value is not read again): FILTER leaves its digits."""
    call = _walk({}, caller="+86 $[1+1]:${EPOCH}")
    [value] = call.astdb.values()
    assert value.endswith(":8611")
    assert pj.parse_entry(f"/hlj/xa/{HOUR}/c", value).caller == "8611"


def test_the_handler_prunes_the_hour_before_the_previous_one() -> None:
    kept = {f"hlj/xa/{HOUR}/a": "x", "hlj/xa/2026120605/b": "x", "hlj/bj/2026120604/c": "x"}
    gone = {"hlj/xa/2026120604/d": "x", "hlj/xa/2026120603/e": "x"}
    call = _walk({}, astdb={**kept, **gone})
    assert set(call.astdb) == set(kept) | {f"hlj/xa/{HOUR}/xa-1796540000.7"}


# --- the parser ---------------------------------------------------------------------------
GOOD = "wait:1796540000:1796540100:1796540010:general:1:::13800001234"


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("/hlj/xa/2026120606", GOOD, "is not hlj/"),
        ("/other/xa/2026120606/c1", GOOD, "is not hlj/"),
        ("/hlj/XA;x/2026120606/c1", GOOD, "city"),
        ("/hlj/xa/20261206/c1", GOOD, "hour"),
        ("/hlj/xa/2026120606/c 1", GOOD, "call id"),
        ("/hlj/xa/2026120606/c1", GOOD + ":extra", "10 fields"),
        ("/hlj/xa/2026120606/c1", "wait:1:2", "3 fields"),
        ("/hlj/xa/2026120606/c1", GOOD.replace("wait", "lost"), "unknown stage"),
        ("/hlj/xa/2026120606/c1", GOOD.replace("1796540000", ""), "arrival"),
        ("/hlj/xa/2026120606/c1", GOOD.replace("1796540100", "17965401x0"), "end"),
        ("/hlj/xa/2026120606/c1", GOOD.replace("1796540100", "1796539000"), "before it"),
        ("/hlj/xa/2026120606/c1", GOOD.replace("general", "gen eral"), "skill"),
        ("/hlj/xa/2026120606/c1", GOOD.replace("13800001234", "+8613800001234"), "caller"),
        ("/hlj/xa/2026120606/c1", "answered" + GOOD[4:], "without a seat"),
    ],
)
def test_a_malformed_entry_is_refused_with_its_reason(key: str, value: str, why: str) -> None:
    with pytest.raises(pj.JournalError, match=why):
        pj.parse_entry(key, value)


def test_malformed_entries_are_skipped_and_the_others_kept() -> None:
    items = [
        {"Response": "Success", "EventList": "start"},
        {"Event": "DBGetTreeResponse", "Key": "/hlj/xa/2026120606/bad", "Val": "garbage"},
        {"Event": "DBGetTreeResponse", "Key": "/hlj/xa/2026120606/good", "Val": GOOD},
        {"Event": "DBGetTreeResponse"},  # no key, no value
        {"Event": "DBGetTreeComplete", "EventList": "Complete", "ListItems": "3"},
    ]
    entries, skipped = pj.parse_tree(items)
    assert [e.call_id for e in entries] == ["good"]
    assert len(skipped) == 2 and "bad: 1 fields" in skipped[0]


def test_the_action_and_the_hours_read() -> None:
    assert act.db_get_tree("hlj/xa/2026120606").headers == (("Family", "hlj/xa/2026120606"),)
    with pytest.raises(act.ActionValueError):
        act.db_get_tree("hlj/xa\r\nAction: DBDelTree")
    # first read: what the dialplan keeps (this hour and the previous one)
    assert journal.hours_to_read(None, NOW) == ["2026120605", HOUR]
    assert journal.hours_to_read(HOUR, NOW) == [HOUR]  # read again: it may have grown
    assert journal.hours_to_read("2026120512", NOW) == ["2026120605", HOUR]
    assert pj.hours_between("2026123123", "2027010100") == ["2026123123", "2027010100"]


# --- writing what the journal says --------------------------------------------------------
def _entry(call_id: str, value: str) -> pj.JournalEntry:
    return pj.parse_entry(f"/hlj/xa/{HOUR}/{call_id}", value)


ENTRIES = [
    _entry("gave-up", "wait:1796540000:1796540100:1796540010:general:1:::13800000001"),
    _entry("short", "wait:1796540000:1796540015:1796540010:general:1:::13800000002"),
    _entry("menu", "ivr:1796540000:1796540005::::::13800000003"),
    _entry("asked", "callback:1796540000:1796540020::general:1:::13800000004"),
    _entry(
        "talked", "answered:1796540000:1796540100:1796540010:enterprise:2:PJSIP/1001:60:13800000005"
    ),
    _entry("ringing", "seat:1796540000:1796540100:1796540010:general:1:PJSIP/2001@trunk-bj::"),
]


async def _counts(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    async with sessions() as session:
        calls = await session.scalar(select(func.count()).select_from(CallRecord))
        tasks = await session.scalar(select(func.count()).select_from(CallbackTask))
        offers = await session.scalar(select(func.count()).select_from(CallOffer))
    return int(calls or 0), int(tasks or 0), int(offers or 0)


async def test_unseen_calls_get_their_records_and_callbacks_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    policy = journal.JournalPolicy(callback_after_s=10.0)
    assert await journal.write(sessions, "xa", ENTRIES, policy) == (6, 2)
    assert await journal.write(sessions, "xa", ENTRIES, policy) == (0, 0)  # read twice
    assert await _counts(sessions) == (6, 2, 1)
    got = {c: await records.get_record(sessions, c) for c in ("gave-up", "menu", "asked")}
    assert (got["gave-up"].outcome, got["menu"].outcome) == ("abandoned", "ivr_hangup")
    assert got["asked"].outcome == "callback_requested"
    assert got["gave-up"].queued_at == datetime(2026, 12, 6, 6, 53, 30, tzinfo=UTC)
    assert got["gave-up"].ended_at == datetime(2026, 12, 6, 6, 55, tzinfo=UTC)
    async with sessions() as session:
        tasks = {t.call_id: t for t in (await session.scalars(select(CallbackTask))).all()}
    assert set(tasks) == {"gave-up", "asked"}
    assert (tasks["gave-up"].source, tasks["asked"].source) == ("abandoned", "overload")


async def test_records_a_controller_began_are_ended_and_ended_ones_left_alone(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A controller killed after the HotlineRoute and before the hang-up left a record without
    an end: the journal ends it, and the caller who gave up gets the callback (which the orphan
    pass, guessing the end, never made). A record with an end, and a call the ACD holds (the
    live path ends it), are not touched."""
    at = datetime.fromtimestamp(1_796_540_000, UTC)
    for call_id in ("gave-up", "menu", "short"):
        await records.call_entered(sessions, call_id, "xa", "13800000009", at)
    await records.call_queued(sessions, "gave-up", "general", "1", at)
    await records.call_ended(sessions, "menu", "ivr_hangup", 16, at)
    policy = journal.JournalPolicy(callback_after_s=10.0)
    assert await journal.write(sessions, "xa", ENTRIES[:3], policy, frozenset({"short"})) == (
        1,
        1,
    )
    gave_up = await records.get_record(sessions, "gave-up")
    assert (gave_up.outcome, gave_up.caller_num) == ("abandoned", "13800000009")
    assert gave_up.ended_at == datetime(2026, 12, 6, 6, 55, tzinfo=UTC)
    assert (await records.get_record(sessions, "menu")).ended_at == at
    assert (await records.get_record(sessions, "short")).ended_at is None
    assert await _counts(sessions) == (3, 1, 0)


async def test_an_answered_call_gets_its_seat_and_answer_time(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    policy = journal.JournalPolicy()
    assert await journal.write(sessions, "xa", ENTRIES[4:], policy) == (2, 0)
    talked = await records.get_record(sessions, "talked")
    assert (talked.outcome, talked.seat_id, talked.answer_city) == ("completed", "1001", "xa")
    assert talked.answered_at == datetime(2026, 12, 6, 6, 54, tzinfo=UTC)
    assert [(o.seat_id, o.result) for o in talked.offers] == [("1001", "answered")]
    ringing = await records.get_record(sessions, "ringing")
    assert (ringing.outcome, ringing.seat_id, ringing.caller_num) == ("abandoned", None, "")


async def test_a_controller_killed_between_the_task_and_the_record_makes_no_second_task(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The task first, then the record: a second read finds no record and writes it, but the
    task the first one made (even one already closed) is not made again."""
    policy = journal.JournalPolicy()
    await journal.write(sessions, "xa", ENTRIES[:1], policy)
    async with sessions.begin() as session:
        await session.execute(CallRecord.__table__.delete())
        for task in (await session.scalars(select(CallbackTask))).all():
            task.status = "done"
    assert await journal.write(sessions, "xa", ENTRIES[:1], policy) == (1, 0)
    assert await _counts(sessions) == (1, 1, 0)
