"""The controller's side of the API request stream (acd/commands/stream.py): read, act, answer.

Each request is answered exactly once, with ``ok`` false and a readable reason when it is
refused (unknown seat, a seat not in that call, a department off duty, a bad field); a
request that fails unexpectedly is answered too, so no API call waits for nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from acd.callbacks import store as callback_store
from acd.callbacks.runner import CallbackRunner
from acd.calls.transfers import Transfers
from acd.commands import stream as commands
from acd.commands.stream import Command, Reply
from store.errors import Invalid, InvalidState, NotFound
from store.tasks import reraise_if_cancelled

log = logging.getLogger(__name__)

Handler = Callable[[Command], Awaitable[Reply]]


def _need(command: Command, *names: str) -> list[str]:
    missing = [n for n in names if not command.fields.get(n)]
    if missing:
        raise Invalid(f"{command.kind}: missing field(s) {', '.join(missing)}")
    return [command.fields[n] for n in names]


def _refused(why: str, detail: str, code: str | None = None) -> Reply:
    fields = {commands.REFUSAL: why}
    if code:
        fields[commands.CODE] = code
    return Reply(False, detail, fields)


class CommandLoop:
    def __init__(
        self, city: str, redis: Redis, transfers: Transfers, callbacks: CallbackRunner
    ) -> None:
        self.city = city
        self.redis = redis
        self.transfers = transfers
        self.callbacks = callbacks
        # One consumer name per city: a restarted controller sees what it had not answered.
        self.consumer = f"controller-{city}"
        self.handlers: dict[str, Handler] = {
            "conference": self._conference,
            "conference_leave": self._conference_leave,
            "blind_transfer": self._blind_transfer,
            "spy": self._spy,
            "callback_now": self._callback_now,
        }

    async def run(self, tick_s: float = 0.5) -> None:
        while True:
            reraise_if_cancelled()
            try:
                batch = await commands.read(self.redis, self.city, self.consumer, block_ms=500)
            except Exception:
                reraise_if_cancelled()
                log.exception("commands %s: cannot read the request stream", self.city)
                await asyncio.sleep(tick_s)
                continue
            for command in batch:
                await commands.answer(self.redis, command, await self.execute(command))

    async def execute(self, command: Command) -> Reply:
        handler = self.handlers.get(command.kind)
        if handler is None:
            return _refused("invalid", f"unknown request kind {command.kind!r}")
        try:
            return await handler(command)
        except NotFound as exc:
            return _refused("not_found", str(exc))
        except InvalidState as exc:
            return _refused("state", str(exc), getattr(exc, "code", None))
        except Invalid as exc:  # only the request's own mistakes; a bug is a failure, not a 422
            return _refused("invalid", str(exc))
        except Exception as exc:
            log.exception("commands %s: %s %s failed", self.city, command.kind, command.id)
            return _refused("failed", f"{command.kind} failed: {exc!r}")

    async def _conference(self, command: Command) -> Reply:
        call_id, seat_id = _need(command, "call_id", "seat_id")
        target = await self.transfers.target(
            command.fields.get("department_id"), command.fields.get("number")
        )
        stay = command.fields.get("stay", "1") != "0"
        row = await self.transfers.conference(call_id, seat_id, target, stay)
        return Reply(
            True, f"正在接通 {target.name}", {"transfer_id": str(row.id), "room": row.room or ""}
        )

    async def _conference_leave(self, command: Command) -> Reply:
        call_id, seat_id = _need(command, "call_id", "seat_id")
        row = await self.transfers.leave(call_id, seat_id)
        return Reply(True, "坐席已退出三方通话", {"transfer_id": str(row.id)})

    async def _blind_transfer(self, command: Command) -> Reply:
        call_id, seat_id = _need(command, "call_id", "seat_id")
        target = await self.transfers.target(
            command.fields.get("department_id"), command.fields.get("number")
        )
        row = await self.transfers.blind(call_id, seat_id, target)
        return Reply(True, f"已转接 {target.name}", {"transfer_id": str(row.id)})

    async def _spy(self, command: Command) -> Reply:
        seat_id, supervisor, mode = _need(command, "seat_id", "supervisor", "mode")
        call_id = await self.transfers.spy(seat_id, supervisor, mode)
        return Reply(True, f"{mode} {seat_id}", {"call_id": call_id})

    async def _callback_now(self, command: Command) -> Reply:
        [task_id] = _need(command, "task_id")
        if not task_id.isdigit():
            raise Invalid(f"task_id {task_id[:20]!r} is not a number")
        task = await callback_store.hurry(
            self.callbacks.sessions, int(task_id), self.callbacks.now()
        )
        if task is None:
            raise NotFound(f"unknown callback task {task_id}")
        if task.status != "open":
            raise InvalidState(f"callback task {task_id} is {task.status}")
        self.callbacks.hurry(task.id)
        return Reply(True, "将在坐席空闲时回拨", {"task_id": task_id})
