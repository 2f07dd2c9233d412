"""The controller's record and callback writes, through the city's outbox (store.outbox).

Each write here is one outbox kind: done at once while the database answers, kept in Redis and
replayed in order while it does not, so a database restart loses no call record and no
callback. Every kind is idempotent, as a replay after a write that committed but lost its
answer requires: records by call id (``seat_offered`` by call, seat and time), callback tasks
once per call (``create_for_call``), a cancel only of tasks opened by its time, attempt
progress only while the attempt is open.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from acd.callbacks import store as attempts
from acd.callbacks import tasks as callbacks
from acd.calls import records
from store.outbox import Kind, Outbox

Sessions = async_sessionmaker[AsyncSession]


Apply = Callable[..., Awaitable[object]]


def kinds(sessions: Sessions) -> dict[str, Kind]:
    def on(fn: Apply) -> Apply:
        async def apply(**args: object) -> object:
            return await fn(sessions, **args)

        return apply

    async def callback_mark(key: str, **values: object) -> None:
        # Only what the write carried: the others stay as the attempt has them.
        await attempts.mark(sessions, key, **{k: v for k, v in values.items() if v is not None})

    return {
        "call_entered": Kind(
            {"call_id": "str", "city": "str", "caller_num": "str", "at": "datetime"},
            on(records.call_entered),
        ),
        "call_queued": Kind(
            {"call_id": "str", "skill": "str", "path": "str", "at": "datetime"},
            on(records.call_queued),
        ),
        "seat_offered": Kind(
            {
                "call_id": "str",
                "seat_id": "str",
                "seat_city": "str",
                "overflowed": "bool",
                "at": "datetime",
            },
            on(records.seat_offered),
        ),
        "offer_result": Kind(
            {"call_id": "str", "result": "str", "at": "datetime"},
            on(records.offer_result),
        ),
        "call_ended": Kind(
            {"call_id": "str", "outcome": "str", "cause": "int?", "at": "datetime"},
            on(records.call_ended),
        ),
        "callback_call": Kind(
            {
                "key": "str",
                "city": "str",
                "number": "str",
                "seat_id": "str",
                "started_at": "datetime",
                "answered_at": "datetime?",
                "ended_at": "datetime",
            },
            on(records.callback_call),
        ),
        "callback_create": Kind(
            {
                "call_id": "str",
                "number": "str",
                "city": "str",
                "skill": "str",
                "source": "str",
                "waited_s": "float",
                "at": "datetime",
                "daily_limit": "int",
            },
            on(callbacks.create_for_call),
        ),
        "callback_cancel": Kind(
            {"number": "str", "at": "datetime"},
            on(callbacks.cancel_for_number),
        ),
        "callback_mark": Kind(
            {
                "key": "str",
                "seat_answered_at": "datetime?",
                "leg_id": "str?",
                "dialled_at": "datetime?",
                "answered_at": "datetime?",
            },
            callback_mark,
        ),
        "callback_finish": Kind(
            {
                "key": "str",
                "outcome": "str",
                "at": "datetime",
                "dial_status": "str?",
                "max_attempts": "int",
                "backoff_s": "float",
            },
            on(attempts.finish),
        ),
    }


def outbox(redis: Redis, city: str, sessions: Sessions) -> Outbox:
    """The city's outbox with the controller's kinds."""
    return Outbox(redis, city, kinds(sessions))
