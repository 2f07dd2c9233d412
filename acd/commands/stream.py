"""Requests from API processes to a city's controller, over a Redis stream.

API processes hold no AMI link; each city's controller does. A request (a three-way call, a
transfer, supervisor monitoring, ...) is added to the city's command stream; the controller
reads it through a consumer group, so a controller restarted mid-request still sees what it
had not acknowledged, acts, and pushes the result onto a short-lived reply list that the
requester waits on. Nothing here knows AMI: the controller maps kinds to actions.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from store import keys

REPLY_TTL_S = 300
STREAM_MAXLEN = 10_000
# What the controller may need before it answers: the read's block (0.5 s), two AMI actions
# (a three-way call sends Redirect then Originate) at pbx.link's 10 s action timeout each, and
# its database writes. Whoever waits for a reply must wait longer than this, or it gives up on
# requests that are still carried out.
ANSWER_WITHIN_S = 22.0
# A refusal's reply carries ``fields[REFUSAL] = one of REFUSALS`` so the requester can tell
# "no such thing" from "not now" from "bad request" from "the PBX failed it".
REFUSAL = "error"
REFUSALS = ("not_found", "state", "invalid", "failed")
# A refusal may also carry a stable machine-readable code (e.g. conference_in_progress).
CODE = "code"


class CommandError(ValueError):
    """A request that cannot be sent (bad kind or fields); nothing was written."""


@dataclass(frozen=True)
class Command:
    id: str
    kind: str
    city: str
    fields: dict[str, str]
    entry_id: str = ""  # stream entry, for the acknowledgement


@dataclass(frozen=True)
class Reply:
    ok: bool
    detail: str = ""
    fields: dict[str, str] = field(default_factory=dict)


def _r(redis: Redis) -> Any:
    return redis  # redis-py's async stubs are unions of every reply shape


def _check(kind: str, fields: dict[str, str]) -> None:
    if not kind or not kind.replace("_", "").isalnum():
        raise CommandError(f"invalid command kind {kind!r}")
    for name, value in fields.items():
        if not isinstance(value, str):
            raise CommandError(f"field {name!r} must be a string")
        if name in ("id", "kind"):
            raise CommandError(f"field name {name!r} is reserved")


async def submit(redis: Redis, city: str, kind: str, fields: dict[str, str]) -> str:
    """Queue a request for the city's controller; returns its id (to wait for the reply)."""
    _check(kind, fields)
    command_id = uuid.uuid4().hex
    entry = {"id": command_id, "kind": kind, **fields}
    await _r(redis).xadd(keys.commands(city), entry, maxlen=STREAM_MAXLEN, approximate=True)
    return command_id


async def wait_reply(redis: Redis, command_id: str, timeout_s: float) -> Reply | None:
    """The controller's answer, or None when it gave none in time (it may still act)."""
    item = await _r(redis).blpop([keys.command_reply(command_id)], timeout=timeout_s)
    if item is None:
        return None
    data = json.loads(item[1])
    return Reply(bool(data["ok"]), str(data.get("detail", "")), dict(data.get("fields", {})))


async def _ensure_group(redis: Redis, city: str) -> None:
    try:
        await _r(redis).xgroup_create(
            keys.commands(city), keys.COMMAND_GROUP, id="0", mkstream=True
        )
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def read(
    redis: Redis, city: str, consumer: str, block_ms: int = 1000, count: int = 10
) -> list[Command]:
    """Next requests for this city: first those this consumer read but never acknowledged
    (a restart), then new ones."""
    await _ensure_group(redis, city)
    out: list[Command] = []
    for start in ("0", ">"):
        reply = await _r(redis).xreadgroup(
            keys.COMMAND_GROUP,
            consumer,
            {keys.commands(city): start},
            count=count,
            block=None if start == "0" else block_ms,
        )
        for _stream, entries in reply or []:
            for entry_id, data in entries:
                data = dict(data)
                out.append(
                    Command(
                        id=str(data.pop("id", "")),
                        kind=str(data.pop("kind", "")),
                        city=city,
                        fields={str(k): str(v) for k, v in data.items()},
                        entry_id=str(entry_id),
                    )
                )
        if out:
            return out
    return out


async def answer(redis: Redis, command: Command, reply: Reply) -> None:
    """Send the result to whoever waits and acknowledge the request (it is done)."""
    key = keys.command_reply(command.id)
    body = json.dumps({"ok": reply.ok, "detail": reply.detail, "fields": reply.fields})
    pipe = _r(redis).pipeline(transaction=True)
    pipe.rpush(key, body)
    pipe.expire(key, REPLY_TTL_S)
    if command.entry_id:
        pipe.xack(keys.commands(command.city), keys.COMMAND_GROUP, command.entry_id)
    await pipe.execute()
