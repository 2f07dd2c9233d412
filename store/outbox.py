"""A city's database writes kept in Redis while the database is unreachable, replayed in order.

A controller that cannot write a call record or a callback task because the database is down
(a restart, a fail-over, a network cut) must not stop routing calls nor forget the write. It
hands each such write to ``Outbox.write``: done at once when the database answers; else kept
as a typed JSON entry at the tail of the list ``hl:db:outbox:<name>`` and the controller goes
on. ``Outbox.run`` (a task of the city's runtime) replays the entries from the head, in the
order they were made, once the database answers again. While entries wait, every new write
joins the tail too, so a call's end is never written before its beginning.

An entry is removed only after its write committed, so a write that committed but whose answer
was lost (the connection dropped in between) is replayed: every kind must be idempotent (the
acd's kinds: acd.calls.durable). An entry the database refuses for another reason than an
outage (a constraint, a bug), or that cannot be read, goes to ``...:failed`` with its error
and the replay goes on: it is kept for a person, never dropped and never retried by itself.

What an outage is: ``is_outage``. The kinds are given by the caller (layer 0 knows no tables).
docs/database-outage.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import exc as sa_exc

from store import keys
from store.tasks import reraise_if_cancelled

log = logging.getLogger(__name__)

VERSION = 1
# Field types an entry may carry; "?" after one: it may be None.
TYPES = ("str", "int", "float", "bool", "datetime")
# SQLSTATE classes of a server that is not there to answer: connection exception (08),
# operator intervention (57P: shutting down, starting up), insufficient resources (53).
_OUTAGE_SQLSTATES = ("08", "57P", "53")


class _Queued:
    def __repr__(self) -> str:
        return "QUEUED"


QUEUED: Any = _Queued()  # what ``Outbox.write`` answers for a write kept for the replay


class MalformedEntry(ValueError):
    """An entry (or the arguments of a write) that does not fit its kind."""


def is_outage(exc: BaseException) -> bool:
    """Whether a database call failed because the database could not be reached or dropped
    the connection (worth waiting for), not because it refused the statement (integrity,
    data, programming errors: waiting would not change the answer)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, sa_exc.IntegrityError | sa_exc.DataError | sa_exc.ProgrammingError):
            return False
        if isinstance(e, OSError | sa_exc.OperationalError | sa_exc.InterfaceError):
            return True  # OSError covers refused and reset connections and TimeoutError
        if isinstance(e, sa_exc.DisconnectionError | sa_exc.TimeoutError):
            return True  # the pool's: no connection to be had
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return True
        state = str(getattr(e, "sqlstate", "") or "")
        if state.startswith(_OUTAGE_SQLSTATES):
            return True
        # asyncpg's client side of a connection the server dropped mid-statement ("cannot
        # switch to state ..; another operation is in progress").
        if type(e).__name__ in ("InternalClientError", "ConnectionDoesNotExistError"):
            return True
        todo += [getattr(e, "orig", None), e.__cause__]
    return False


@dataclass(frozen=True)
class Kind:
    """One kind of write: its fields (name -> a type of TYPES, "?" for optional) and the
    idempotent function that does it, called with those fields as keyword arguments."""

    fields: Mapping[str, str]
    apply: Callable[..., Awaitable[object]]

    def __post_init__(self) -> None:
        for name, spec in self.fields.items():
            if spec.removesuffix("?") not in TYPES:
                raise ValueError(f"field {name}: unknown type {spec!r}")


def _encode_value(spec: str, value: object) -> object:
    base = spec.removesuffix("?")
    if value is None:
        if spec.endswith("?"):
            return None
        raise MalformedEntry("is missing")
    if base == "datetime":
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise MalformedEntry(f"{value!r} is not a datetime with a zone")
        return value.isoformat()
    if base == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if base == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if base == "bool" and isinstance(value, bool):
        return value
    if base == "str" and isinstance(value, str):
        return value
    raise MalformedEntry(f"{value!r} is not a {base}")


def _decode_value(spec: str, value: object) -> object:
    if spec.removesuffix("?") != "datetime" or value is None:
        return value  # _encode_value checks the JSON type the same way
    if not isinstance(value, str):
        raise MalformedEntry(f"{value!r} is not a datetime")
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MalformedEntry(str(exc)) from None
    if at.tzinfo is None:
        raise MalformedEntry(f"{value!r} has no zone")
    return at


def _check(
    kind: Kind, args: Mapping[str, object], code: Callable[[str, object], object]
) -> dict[str, Any]:
    missing, extra = set(kind.fields) - set(args), set(args) - set(kind.fields)
    if missing or extra:
        raise MalformedEntry(f"fields missing {sorted(missing)}, unknown {sorted(extra)}")
    out: dict[str, Any] = {}
    for name, spec in kind.fields.items():
        try:
            out[name] = code(spec, args[name])
        except MalformedEntry as exc:
            raise MalformedEntry(f"field {name}: {exc}") from None
    return out


class Outbox:
    def __init__(
        self, redis: Redis, name: str, kinds: Mapping[str, Kind], *, poll_s: float = 0.5
    ) -> None:
        self.redis = redis
        self.name = name
        self.kinds = dict(kinds)
        self.poll_s = poll_s
        self.key = keys.db_outbox(name)
        self.failed_key = keys.db_outbox_failed(name)
        self._queued = False  # this process queued an entry not yet replayed (a shortcut)
        self._down = False  # one warning per outage, not one per write

    # --- writing ---------------------------------------------------------------------
    def entry(self, kind: str, args: Mapping[str, object]) -> str:
        """The JSON entry of a write; MalformedEntry for an unknown kind or wrong fields
        (a programming error: raised before anything is done)."""
        return self._serialise(kind, self._encoded(kind, args))

    def _encoded(self, kind: str, args: Mapping[str, object]) -> dict[str, Any]:
        if kind not in self.kinds:
            raise MalformedEntry(f"unknown kind {kind!r}")
        return _check(self.kinds[kind], args, _encode_value)

    @staticmethod
    def _serialise(kind: str, fields: dict[str, Any]) -> str:
        body = {
            "v": VERSION,
            "id": uuid.uuid4().hex,
            "kind": kind,
            "queued_at": datetime.now(UTC).isoformat(),
            "args": fields,
        }
        return json.dumps(body, ensure_ascii=False)

    async def write(self, kind: str, **args: object) -> Any:
        """Do the write now, or keep it for the replay when the database is unreachable or
        earlier writes still wait. Answers what the write answered when done now, ``QUEUED``
        when kept. A write the database refuses for another reason raises as it would
        without the outbox."""
        fields = self._encoded(kind, args)  # checked before anything is done
        if not await self.behind():
            try:
                done = await self.kinds[kind].apply(**args)
                self._down = False
                return done
            except Exception as exc:
                reraise_if_cancelled()
                if not is_outage(exc):
                    raise
                if not self._down:
                    log.warning("outbox %s: database unreachable, writes kept in Redis: %s",
                                self.name, _short(exc))  # fmt: skip
                self._down = True
        # Serialised only now: most writes go straight to the database.
        await self.redis.rpush(self.key, self._serialise(kind, fields))
        self._queued = True
        return QUEUED

    async def behind(self) -> bool:
        """Whether writes wait in the outbox (then a new one must wait behind them)."""
        if self._queued:
            return True
        try:
            return bool(await self.redis.llen(self.key))
        except RedisError:
            reraise_if_cancelled()  # redis-py may turn a cancellation into a ConnectionError
            return False  # nothing can have been queued where nothing can be read

    async def pending(self) -> int:
        return int(await self.redis.llen(self.key))

    # --- replaying -------------------------------------------------------------------
    async def replay(self) -> bool:
        """Replay from the head, in order, until the outbox is empty (True) or the database
        is unreachable again (False)."""
        while True:
            raw = await self.redis.lindex(self.key, 0)
            if raw is None:
                self._queued = False
                return True
            raw = raw.decode() if isinstance(raw, bytes) else str(raw)
            try:
                kind, args = self._decode(raw)
            except MalformedEntry as exc:
                await self._fail(raw, f"malformed entry: {exc}")
                continue
            try:
                await self.kinds[kind].apply(**args)
            except Exception as exc:
                reraise_if_cancelled()
                if is_outage(exc):
                    return False
                await self._fail(raw, f"{type(exc).__name__}: {_short(exc)}")
                continue
            # By value, not LPOP: another replayer (a controller taking over) may have
            # removed this entry already; the write is idempotent, the removal exact.
            await self.redis.lrem(self.key, 1, raw)

    def _decode(self, raw: str) -> tuple[str, dict[str, Any]]:
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise MalformedEntry(f"not JSON ({exc})") from None
        if not isinstance(body, dict) or body.get("v") != VERSION:
            raise MalformedEntry("not an outbox entry of this version")
        kind, args = body.get("kind"), body.get("args")
        if not isinstance(kind, str) or kind not in self.kinds:
            raise MalformedEntry(f"unknown kind {kind!r}")
        if not isinstance(args, dict):
            raise MalformedEntry("no arguments")
        fields = _check(self.kinds[kind], args, _decode_value)
        # The JSON types must be what encoding makes (a hand-edited entry may differ).
        _check(self.kinds[kind], fields, _encode_value)
        return kind, fields

    async def _fail(self, raw: str, error: str) -> None:
        log.error("outbox %s: entry refused, kept in %s: %s", self.name, self.failed_key, error)
        note = {"entry": raw, "error": error, "at": datetime.now(UTC).isoformat()}
        # Kept first, removed second: a stop in between leaves it in both lists, not in none.
        await self.redis.rpush(self.failed_key, json.dumps(note, ensure_ascii=False))
        await self.redis.lrem(self.key, 1, raw)

    async def failed(self) -> list[dict[str, Any]]:
        """The entries refused, oldest first: {entry, error, at}."""
        rows = await self.redis.lrange(self.failed_key, 0, -1)
        return [json.loads(r) for r in rows]

    async def run(self) -> None:
        """Replay whenever entries wait, until cancelled; a Redis or database outage is
        waited out."""
        while True:
            reraise_if_cancelled()  # a driver may have swallowed the cancellation
            try:
                if await self.behind():
                    waiting = await self.pending()
                    if await self.replay():
                        self._down = False
                        log.warning("outbox %s: database back, %d kept write(s) replayed",
                                    self.name, waiting)  # fmt: skip
            except Exception as exc:
                reraise_if_cancelled()
                log.warning("outbox %s: replay paused: %s", self.name, _short(exc))
            await asyncio.sleep(self.poll_s)


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
