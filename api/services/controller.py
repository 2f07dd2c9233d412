"""Asking a city's controller to act (three-way call, transfer, spy, callback) and waiting."""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis

from acd.commands import stream as commands
from api.errors import (
    ControllerFailed,
    ControllerInvalid,
    ControllerNotFound,
    ControllerRefused,
    ControllerTimeout,
)
from api.metrics import COMMAND_SECONDS

log = logging.getLogger(__name__)

# The controller's refusal (acd.commands.REFUSALS) -> the error the API maps to a status.
_REFUSED: dict[str, type[ControllerRefused]] = {
    "not_found": ControllerNotFound,
    "invalid": ControllerInvalid,
    "failed": ControllerFailed,
}


async def ask(
    redis: Redis, city: str, kind: str, fields: dict[str, str], timeout_s: float
) -> dict[str, str]:
    """Submit and wait for the reply; the reply's fields on success."""
    command_id = await commands.submit(redis, city, kind, fields)
    log.info(
        "api: %s for city %s sent as %s (call %s)",
        kind,
        city,
        command_id,
        fields.get("call_id", "-"),
    )
    started = time.monotonic()
    reply = await commands.wait_reply(redis, command_id, timeout_s)
    result = "timeout" if reply is None else ("ok" if reply.ok else "refused")
    COMMAND_SECONDS.labels(kind, result).observe(time.monotonic() - started)
    if reply is None:
        raise ControllerTimeout(
            f"the {city} controller did not answer within {timeout_s:g} s; the request "
            f"{command_id} may still be carried out"
        )
    if not reply.ok:
        error = _REFUSED.get(reply.fields.get(commands.REFUSAL, ""), ControllerRefused)
        raise error(
            reply.detail or f"the {city} controller refused {kind}",
            reply.fields.get(commands.CODE),
        )
    return {"command_id": command_id, "detail": reply.detail, **reply.fields}
