"""Calls no controller saw: their records and callbacks from the dialplan's call journal.

A call that arrives and ends while no controller runs (killed, restarting, its link down)
leaves nothing in AMI for a controller to hear, but its hangup handler wrote a journal entry
in AstDB (pbx/journal.py). At every resync the controller reads the hours since it last read
(its position in Redis, ``hl:ami:journal:<city>``), and every call there without a record gets
one, closed with the journal's times and outcome; a caller who gave up after waiting long
enough to be called back, or who asked for a callback in the menu, gets the callback task the
live path would have made. Both writes are the live path's idempotent ones (a record only where
none exists; one open task per number, and none for a call that already has one), so reading
the same hour twice, or a controller killed mid-way, writes nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis.asyncio import Redis

from acd.callbacks import tasks as callbacks
from acd.calls import records
from acd.queue.watchdog import channel_seat
from pbx import actions as act
from pbx import journal as pj
from pbx.link import AmiLink
from store import keys

log = logging.getLogger(__name__)

# How far the call got -> the outcome the live path would have written.
_OUTCOMES = {
    "ivr": "ivr_hangup",
    "callback": "callback_requested",
    "wait": "abandoned",
    "seat": "abandoned",
    "fallback": "abandoned",
    "answered": "completed",
}


@dataclass
class Replayed:
    hours: list[str] = field(default_factory=list)
    entries: int = 0
    recorded: int = 0  # records written
    callbacks: int = 0  # callback tasks made
    skipped: list[str] = field(default_factory=list)  # malformed entries, why


@dataclass(frozen=True)
class JournalPolicy:
    callback_after_s: float = 10.0
    daily_limit: int = 3


def _at(epoch_s: int) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def hours_to_read(last: str | None, now_s: float) -> list[str]:
    """From the hour last read (read again: it may have grown) to now, never before what the
    dialplan still keeps."""
    oldest = pj.hour_of(now_s - (pj.KEPT_HOURS - 1) * 3600)
    first = oldest if last is None or last < oldest else last
    return pj.hours_between(first, pj.hour_of(now_s))


async def read(
    link: AmiLink, city: str, hours: list[str]
) -> tuple[list[pj.JournalEntry], list[str]]:
    """The city's entries of these hours; AmiError, ActionNotSent or TimeoutError when an hour
    cannot be read (then nothing is taken as read)."""
    entries: list[pj.JournalEntry] = []
    skipped: list[str] = []
    for hour in hours:
        items = await link.send_list(act.db_get_tree(pj.family(city, hour)))
        got, bad = pj.parse_tree(m.headers for m in items)
        entries += [e for e in got if e.city == city and e.hour == hour]
        skipped += bad + [f"{e.call_id}: filed under {e.city}/{e.hour}" for e in got
                          if e.city != city or e.hour != hour]  # fmt: skip
    return entries, skipped


def past_call(entry: pj.JournalEntry, city: str) -> records.PastCall:
    answered = entry.stage == "answered" and entry.talk is not None
    seat = channel_seat(entry.seat) if answered else ""
    trunk = entry.seat.partition("@")[2]
    seat_city = trunk.removeprefix("trunk-") if trunk.startswith("trunk-") else city
    return records.PastCall(
        call_id=entry.call_id,
        city=city,
        caller_num=entry.caller,
        skill=entry.skill or None,
        path=entry.path,
        entered_at=_at(entry.arrival),
        queued_at=_at(entry.wait_start) if entry.wait_start is not None else None,
        ended_at=_at(entry.end),
        outcome=_OUTCOMES[entry.stage],
        answered_at=_at(entry.end - (entry.talk or 0)) if answered else None,
        seat_id=seat or None,
        seat_city=seat_city if seat else None,
    )


def _callback_source(entry: pj.JournalEntry, policy: JournalPolicy) -> str | None:
    """Which callback the live path would have made: the caller's own request in the menu,
    or a wait given up after long enough (not in the fallback: the runner's own)."""
    if entry.stage == "callback":
        return "overload"
    waited = entry.end - entry.wait_start if entry.wait_start is not None else 0
    if entry.stage in ("wait", "seat") and waited >= policy.callback_after_s:
        return "abandoned"
    return None


async def write(
    sessions: records.Sessions,
    city: str,
    entries: list[pj.JournalEntry],
    policy: JournalPolicy,
    held: frozenset[str] = frozenset(),
) -> tuple[int, int]:
    """Records (and callbacks) for the entries' calls that have none, and the end of those
    whose record a controller began but never ended: (records written or ended, callbacks).
    ``held``: calls the ACD holds, whose end is the live path's (its Hangup is on its way)."""
    known = await records.recorded(sessions, (e.call_id for e in entries))
    written = called = 0
    for entry in sorted(entries, key=lambda e: (e.end, e.call_id)):
        if known.get(entry.call_id) or entry.call_id in held:
            continue  # ended already, or the live path's
        # The task before the record: killed in between, the next read finds no end and
        # writes it, and for_call keeps the task from being made twice.
        called += await _callback(sessions, city, entry, policy)
        call = past_call(entry, city)
        if entry.call_id in known:
            done = await records.close_past(sessions, call)
        else:
            done = await records.past_call(sessions, call)
        if done:
            written += 1
            log.info("acd %s: call %s ended unseen (%s); %s from the call journal",
                        city, entry.call_id, entry.stage,
                        "closed" if entry.call_id in known else "recorded")  # fmt: skip
    return written, called


async def _callback(
    sessions: records.Sessions, city: str, entry: pj.JournalEntry, policy: JournalPolicy
) -> int:
    source = _callback_source(entry, policy)
    if source is None or not entry.caller:
        return 0
    task = await callbacks.create_for_call(
        sessions,
        number=entry.caller,
        city=city,
        skill=entry.skill or "general",
        source=source,
        call_id=entry.call_id,
        waited_s=float(entry.end - (entry.wait_start or entry.end)),
        at=_at(entry.end),
        daily_limit=policy.daily_limit,
    )
    return int(task is not None)


async def replay(
    link: AmiLink,
    redis: Redis,
    sessions: records.Sessions,
    city: str,
    now_s: float,
    policy: JournalPolicy,
    held: frozenset[str] = frozenset(),
) -> Replayed:
    """Read the journal since the last position, write what is missing, move the position."""
    last = await redis.get(keys.ami_journal(city))
    hours = hours_to_read(last.decode() if isinstance(last, bytes) else last, now_s)
    entries, skipped = await read(link, city, hours)
    for reason in skipped:
        log.warning("acd %s: call journal entry skipped: %s", city, reason)
    done = Replayed(hours=hours, entries=len(entries), skipped=skipped)
    done.recorded, done.callbacks = await write(sessions, city, entries, policy, held)
    await redis.set(keys.ami_journal(city), hours[-1])
    return done
