"""The public intake and the 留言 imports for the API: guard, hold, confirm, accept."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import weakref
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from api.deps import AppDeps
from intake import batch, guard, photos
from intake.service import Drafter, Duplicate, IntakeError, Submission, accept
from store.base import utcnow
from store.sessions import Sessions
from tickets.models import Ticket

# One builder for the process: its rules and jieba's dictionary load once.
_drafter: Drafter | None = None


def drafter() -> Drafter:
    global _drafter
    if _drafter is None:
        _drafter = Drafter()
    return _drafter


# SQLite has one writer at a time, and a writer that finds the lock taken polls for it until
# the busy timeout: in a burst of confirmations late pollers kept losing to new arrivals and
# some waited the whole 5 s out (bench/bench_knowledge_intake.py, 16 citizens at once). In one
# process the intake's writers take turns here instead, in arrival order. One lock per event
# loop: an asyncio.Lock belongs to the loop it first waited in.
_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _writer_turn(deps: AppDeps) -> contextlib.AbstractAsyncContextManager[Any]:
    if deps.engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    loop = asyncio.get_running_loop()
    turn = _turns.get(loop)
    if turn is None:
        turn = _turns[loop] = asyncio.Lock()
    return turn


def decode_photos(encoded: list[str]) -> list[bytes]:
    out = []
    for i, text in enumerate(encoded, 1):
        try:
            out.append(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError):
            raise IntakeError(f"第 {i} 张照片不是有效的 base64") from None
    photos.check(out)
    return out


async def guard_submission(deps: AppDeps, client: str | None, phone: str) -> None:
    """Count the submission against its address (None: the SMS gateway's, not counted) and
    its phone; TooMany past either limit."""
    limits = deps.intake_limits
    if client is not None:
        await guard.spend(deps.redis, "ip", client, limits.per_ip, limits.window_s)
    await guard.spend(deps.redis, "phone", phone, limits.per_phone, limits.window_s)


async def hold(deps: AppDeps, sub: Submission, raw_photos: list[bytes]) -> str:
    """Keep the message (photos as base64, until the code comes back) in Redis: what is never
    confirmed expires there and leaves no file behind."""
    if raw_photos and deps.intake_dir is None:
        raise IntakeError("本渠道暂不接收照片")
    payload: dict[str, Any] = asdict(sub)
    payload["photos"] = [base64.b64encode(p).decode() for p in raw_photos]
    payload["received_at"] = (sub.received_at or utcnow()).isoformat()
    return await guard.hold(deps.redis, payload, sub.phone, deps.intake_sender, deps.intake_limits)


async def confirm(
    deps: AppDeps, sessions: Sessions, pending_id: str, code: str
) -> tuple[Ticket, bool]:
    """The held message's ticket. Anything failing after the right code (the database, the
    photos' disk) holds the message again, so the same code confirms it once that is fixed."""
    payload = await guard.confirm(deps.redis, pending_id, code, deps.intake_limits)
    try:
        return await _accept_held(deps, sessions, dict(payload))
    except Exception:
        await guard.restore(deps.redis, pending_id, code, payload, deps.intake_limits)
        raise


async def _accept_held(
    deps: AppDeps, sessions: Sessions, payload: dict[str, Any]
) -> tuple[Ticket, bool]:
    received = datetime.fromisoformat(payload.pop("received_at"))
    raw = [base64.b64decode(p) for p in payload.pop("photos")]
    stored: list[str] = []
    if raw and deps.intake_dir is not None:
        stored = photos.store(deps.intake_dir, raw, received)
    sub = Submission(**payload, photos=tuple(stored), received_at=received)
    try:
        return await submit(deps, sessions, sub)
    except Exception:
        for rel in stored:  # written again when the message is confirmed again
            (deps.intake_dir or Path()).joinpath(rel).unlink(missing_ok=True)
        raise


async def submit(deps: AppDeps, sessions: Sessions, sub: Submission) -> tuple[Ticket, bool]:
    """(the ticket, whether it is an earlier one: the message id was received before)."""
    async with _writer_turn(deps), sessions() as session:
        try:
            return await accept(session, drafter(), sub, deps.calendar), False
        except Duplicate as dup:
            earlier = await session.get(Ticket, dup.ticket_id)
            assert earlier is not None  # the message row points at it
            return earlier, True


async def import_batch(
    deps: AppDeps, sessions: Sessions, platform: str, data: bytes, fmt: str
) -> batch.Report:
    async with sessions() as session:
        return await batch.import_batch(session, drafter(), platform, data, fmt, deps.calendar)
