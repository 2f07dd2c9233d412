"""Indexing a finished call's recordings in the background, once MixMonitor has let go.

The hang-up reaches the controller before MixMonitor has closed its files: Asterisk fills in
a WAV header's sizes only when it closes the file, and the simulator writes its files in a
thread after the hang-up. So a call is indexed when its files are there and closed, checked
after each of ``settle_s`` (then indexed as they are, and a file still open is measured as
it is; its ASR job says why it failed). MixMonitor opens the files with the first audio, so
a call with no file at all when it ends was not recorded and is not waited for. Nor is a call
whose files are missing or hold no audio on a full filesystem: no wait fills them, so the
full disk is reported by call id at once, not seconds later. Meanwhile the controller goes
on with its events.

Each waiting call is also kept in a Redis hash per city until it is indexed, so a controller
that stops (a crash, a restart) indexes what it left on its next start (``resume``): a
recording on disk is never left without its row. Indexing twice is harmless (see
recording.index).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recording.audio import being_written
from recording.index import AfterIndex, index_call
from recording.policy import SPEAKERS, attempts_on_disk
from store import keys
from store.outbox import is_outage
from store.tasks import reraise_if_cancelled

log = logging.getLogger(__name__)
SETTLE_S = (0.2, 0.5, 1.0, 2.0, 4.0)
# Less room than this is a full disk for recordings: a quarter of a second of a call's three
# 8 kHz 16-bit files, so MixMonitor cannot add any audio worth waiting for.
FULL_BELOW_BYTES = 12_288
_WAV_HEADER = 44
# Waits before indexing again while the database is unreachable (about ten minutes in all);
# after that the note waits for the next start.
DB_RETRY_S = (1.0, 2.0, 4.0, 8.0, *(15.0,) * 38)


@dataclass(frozen=True)
class Ended:
    """A call whose files are to be indexed (the arguments of recording.index.index_call)."""

    call_id: str
    seat_id: str | None
    arrived_at: datetime
    started_at: datetime

    def to_json(self) -> str:
        d = asdict(self)
        d["arrived_at"], d["started_at"] = self.arrived_at.isoformat(), self.started_at.isoformat()
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> Ended:
        d = json.loads(text)
        return cls(
            d["call_id"],
            d["seat_id"],
            datetime.fromisoformat(d["arrived_at"]),
            datetime.fromisoformat(d["started_at"]),
        )


def file_state(root: str, call_id: str, arrived_at: datetime, expect: Sequence[str]) -> str:
    """``ready``: the last attempt's files are all there (one per speaker in ``expect``: what
    the dialplan's MixMonitor writes) and closed; ``open``: some are there, not all or not
    closed; ``none``: no file at all (yet, or the call was not recorded)."""
    found = attempts_on_disk(root, call_id, arrived_at)
    if not found:
        return "none"
    last = [f for f in found if f.attempt == max(g.attempt for g in found)]
    if not set(expect) <= {f.speaker for f in last}:
        return "open"
    return "open" if any(being_written(f.path) for f in last) else "ready"


def disk_full(root: str) -> str | None:
    """Why the filesystem of ``root`` takes no more audio (free bytes), or None."""
    try:
        st = os.statvfs(root)
    except OSError:
        return None  # not there (yet): nothing says it is full
    free = st.f_bavail * st.f_frsize
    return f"{free} bytes free" if free < FULL_BELOW_BYTES else None


def starved(root: str, call_id: str, arrived_at: datetime, expect: Sequence[str]) -> str | None:
    """Why the last attempt's files will never be complete, or None: some are missing or
    hold no audio (a header at most) and the disk is full. A file with audio in it is left
    to be closed: closing it fills in its header and needs no room."""
    found = attempts_on_disk(root, call_id, arrived_at)
    last = [f for f in found if f.attempt == max(g.attempt for g in found)] if found else []
    missing = set(expect) - {f.speaker for f in last}
    empty = []
    for f in last:
        try:
            if f.path.stat().st_size <= _WAV_HEADER:
                empty.append(f.speaker)
        except OSError:
            missing.add(f.speaker)
    if not missing and not empty:
        return None
    full = disk_full(root)
    if full is None:
        return None
    parts = [f"missing: {', '.join(sorted(missing))}"] if missing else []
    parts += [f"no audio: {', '.join(sorted(empty))}"] if empty else []
    return f"disk full ({full}; {'; '.join(parts)})"


class Indexer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        redis: Redis,
        city: str,
        root: str | Path,
        *,
        owner: str = "acd",
        keep_mixed: bool = True,
        settle_s: Sequence[float] = SETTLE_S,
        expect: Sequence[str] = SPEAKERS,
        after_index: AfterIndex | None = None,
    ) -> None:
        self.sessions = sessions
        self.after_index = after_index
        self.redis = redis
        self.city = city
        self._key = keys.recordings_to_index(f"{city}:{owner}")
        self.root = str(root)
        self.keep_mixed = keep_mixed
        self.settle_s = tuple(settle_s)
        self.expect = tuple(expect)
        self._tasks: dict[str, asyncio.Task[None]] = {}  # call id -> its one indexing task

    async def submit(self, call: Ended) -> None:
        """Note the call (durably, first), then index it in the background."""
        try:
            await self.redis.hset(self._key, call.call_id, call.to_json())
        except Exception as exc:  # Redis down: index it all the same, only without the note
            reraise_if_cancelled()
            log.warning("recording %s %s: cannot note it (%s)", self.city, call.call_id, exc)
        self._spawn(call)

    async def resume(self) -> int:
        """Index the calls a stopped controller of this city left noted. Returns how many."""
        left = await self.redis.hgetall(self._key)
        resumed = 0
        for call_id, text in left.items():
            try:
                call = Ended.from_json(str(text))
            except (ValueError, KeyError, TypeError) as exc:
                log.error(
                    "recording %s: a damaged note for %s (%s): dropped", self.city, call_id, exc
                )
                await self.redis.hdel(self._key, call_id)
                continue
            self._spawn(call)
            resumed += 1
        if resumed:
            log.info("recording %s: indexing %d call(s) left from before", self.city, resumed)
        return resumed

    @property
    def busy(self) -> int:
        return len(self._tasks)

    def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()

    def _spawn(self, call: Ended) -> None:
        if call.call_id in self._tasks:
            return
        task = asyncio.get_running_loop().create_task(self._index(call))
        self._tasks[call.call_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(call.call_id, None))

    async def _index(self, call: Ended) -> None:
        full: str | None = None
        try:
            for delay in (*self.settle_s, None):  # a last look after the last wait
                state = await asyncio.to_thread(
                    file_state, self.root, call.call_id, call.arrived_at, self.expect
                )
                # No file at all by the hang-up: MixMonitor opens its files with the first
                # audio, so this call was not recorded; waiting would not change that.
                if state in ("ready", "none") or delay is None:
                    break
                full = await asyncio.to_thread(
                    starved, self.root, call.call_id, call.arrived_at, self.expect
                )
                if full is not None:  # waiting will not write them: say so now
                    log.warning(
                        "recording %s %s: not recorded in full, %s; indexing what is there",
                        self.city,
                        call.call_id,
                        full,
                    )
                    break
                await asyncio.sleep(delay)
            if state == "none":  # every answered call is recorded: say so when one is not
                log.warning(
                    "recording %s %s: the answered call left no file (not recorded: "
                    "MixMonitor could not write, a full disk?)",
                    self.city,
                    call.call_id,
                )
            if state == "open" and full is None:
                log.warning(
                    "recording %s %s: files missing or still open after %.1f s; indexing "
                    "what is there",
                    self.city,
                    call.call_id,
                    sum(self.settle_s),
                )
            await self._index_when_db(call)
        except asyncio.CancelledError:
            raise  # the note stays: resumed on the next start
        except Exception:  # a full disk or a database hiccup: the note stays for the next start
            log.exception("recording %s %s: indexing failed", self.city, call.call_id)
            return
        await self.redis.hdel(self._key, call.call_id)

    async def _index_when_db(self, call: Ended) -> None:
        """index_call, tried again while the database is unreachable (a restart): the files
        are there now, and waiting for the next controller start could take days."""
        for wait in (*DB_RETRY_S, None):
            try:
                await index_call(
                    self.sessions,
                    self.after_index,
                    call_id=call.call_id,
                    city=self.city,
                    seat_id=call.seat_id,
                    root=self.root,
                    arrived_at=call.arrived_at,
                    started_at=call.started_at,
                    keep_mixed=self.keep_mixed,
                )
                return
            except Exception as exc:
                reraise_if_cancelled()
                if wait is None or not is_outage(exc):
                    raise
                log.info("recording %s %s: no database (%s); again in %.0f s",
                         self.city, call.call_id, type(exc).__name__, wait)  # fmt: skip
            await asyncio.sleep(wait)
