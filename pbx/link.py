"""The AMI link to one Asterisk: the only module that imports panoramisk.

panoramisk's Manager keeps the connection: connect, login, keep-alive ping, reconnect. Two of
its behaviours are replaced: each TCP read is framed by ``pbx.framing`` (panoramisk decodes
every read on its own and drops the bytes of a character split across two reads), and actions
are never re-sent after a reconnect (panoramisk re-sends unanswered ones, which could ring a
callback twice). An action that was not answered fails with ``ActionNotSent``; its caller
decides, after the resync, whether doing it again is right. Reconnects back off exponentially
with jitter, forever; every state change is reported once through ``on_state``.

Each event goes on with the time it happened on our clock (``at_ms``, pbx.callevents): its
Timestamp moved by the clocks' difference (pbx.skew, taken anew with a Ping at each resync),
or the moment it was read when unstamped; never when a busy controller gets round to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import random
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message as PanoramiskMessage

from pbx import events as ev
from pbx.actions import (
    Action,
    ActionNotSent,
    AmiError,
    core_show_channels,
    db_get,
    error_for,
    ping,
    queue_status,
)
from pbx.framing import AmiFramer
from pbx.message import Message, MissingField
from pbx.pipeline import AmiPipeline
from pbx.skew import Skew
from pbx.stamps import stamp_ms

log = logging.getLogger(__name__)
SENT_KEPT = 1000
SENT_KEYS_KEPT = 100_000  # days of callbacks at a busy city

_OUR_IDS = "hl-"
DOWN, CONNECTING, RESYNCING, UP = "down", "connecting", "resyncing", "up"


class DuplicateOriginate(Exception):
    """An Originate with this idempotency key was already sent on this link."""


def wall_ms() -> int:
    return int(time.time() * 1000)


class Backoff:
    """Capped exponential backoff with full jitter (so many controllers don't reconnect in step)."""

    def __init__(
        self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
    ) -> None:
        self.base, self.cap = base, cap
        self.attempt = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        ceiling = min(self.cap, self.base * (2**self.attempt))
        self.attempt += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


async def _after(previous: asyncio.Future[None] | None, report: Awaitable[None]) -> None:
    if previous is not None:
        await asyncio.wait([previous])  # its failure is its own
    await report


class _Protocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol with our framing and our own action correlation."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.framer = AmiFramer(on_problem=lambda p: log.warning("ami framing: %s", p))
        self.early = bytearray()

    def data_received(self, data: bytes) -> None:
        if self.factory is None:
            # panoramisk attaches its manager in a callback of the connect future, which can
            # run after Asterisk's banner has arrived: keep the bytes until then.
            self.early += data
            return
        link: AmiLink = self.factory.link
        received = link.clock()  # one read: its messages arrived together
        messages = self.framer.feed(data)
        link._observe(messages, received)
        for message in messages:
            action_id = message.action_id
            if action_id is not None and action_id.startswith(_OUR_IDS):
                link._answer(message, received)
            elif action_id is not None and "Event" not in message:
                self.handle_message(PanoramiskMessage(message.as_dict()))  # login, ping
            elif message.get("Event") == "Shutdown":
                self.connection_lost(None)
            elif "Event" in message:
                link._event(message, received)

    def close(self) -> None:
        # Never queue our actions for re-sending: fail them (see the module docstring).
        self.responses.clear()
        if self.factory is not None:
            self.factory.link._fail_pending("connection lost before Asterisk answered")
        if not self.closed:  # type: ignore[has-type]
            try:
                self.transport.close()
            finally:
                self.closed = True


class _Manager(Manager):  # type: ignore[misc]
    link: AmiLink

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if f.exception() is not None:
            self.reconnect_timeout = self.link._down(f"cannot connect: {f.exception()}")
        super().connection_made(f)
        protocol = getattr(self, "protocol", None)
        if f.exception() is None and isinstance(protocol, _Protocol) and protocol.early:
            early, protocol.early = bytes(protocol.early), bytearray()
            protocol.data_received(early)

    def connection_lost(self, exc: object) -> None:
        if self.link._closed:
            return
        self.reconnect_timeout = self.link._down("connection lost")
        super().connection_lost(exc)

    def login(self, future: asyncio.Future[Any]) -> bool:
        ok = bool(super().login(future))
        resp = future.result()
        if ok:
            self.link._logged_in()
        else:
            self.link._report(DOWN, f"login refused: {resp.get('Message', '')}")
        return ok


class AmiLink:
    """One city's AMI connection: send actions, receive call events through the pipeline."""

    def __init__(
        self,
        city: str,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        pipeline: AmiPipeline | None = None,
        on_state: Callable[[str, str], Awaitable[None] | None] | None = None,
        ping_interval: float = 20.0,
        backoff: Backoff | None = None,
        action_timeout: float = 10.0,
        may_send: Callable[[], bool] | None = None,
        until_may_send: Callable[[], Awaitable[bool]] | None = None,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        self.city = city
        self.clock = clock  # epoch ms, the controller's clock (the ACD's)
        # Asked before every action leaves: a controller that no longer holds its city's
        # lease (docs/failover.md) sends nothing, even one paused mid-send.
        self._may_send = may_send
        # Awaited (at most the action timeout) when may_send says no: the lease may be being
        # taken back after a Redis outage (``Lease.ready``), and the action then goes out
        # instead of being dropped.
        self._until_may_send = until_may_send
        self.pipeline = pipeline or AmiPipeline()
        self.pipeline.skew.name = city
        self.state = DOWN
        self.detail = ""
        self._on_state = on_state
        # Work the state callback started (e.g. writing the state to Redis): close() waits for
        # it, so the last report ("closed") is not lost when the process ends.
        self._reports: set[asyncio.Future[None]] = set()
        self._last_report: asyncio.Future[None] | None = None
        self._backoff = backoff or Backoff()
        self._timeout = action_timeout
        self._ids = itertools.count(1)
        self._pending: dict[str, tuple[str, asyncio.Future[list[Message]], bool]] = {}
        self._list_items: dict[str, list[Message]] = {}
        # Events held during a resync, each with the moment it was read.
        self._buffer: list[tuple[Message, int]] | None = None
        # Idempotency keys sent on this link, the newest SENT_KEYS_KEPT: a second line of
        # defence behind the callback store's unique keys, so it may forget the oldest.
        self._sent_keys: OrderedDict[str, None] = OrderedDict()
        self._up = asyncio.Event()
        self._resync_task: asyncio.Task[None] | None = None
        self._closed = False
        # The last SENT_KEPT action names, in send order (diagnostics and tests).
        self.sent: deque[str] = deque(maxlen=SENT_KEPT)
        self.refused = 0  # actions not sent because may_send said no
        self._manager = _Manager(
            host=host,
            port=port,
            username=username,
            secret=secret,
            protocol_factory=_Protocol,
            ping_delay=ping_interval,
            ping_interval=ping_interval,
            events="on",
            forgetable_actions=("ping", "login"),
        )
        self._manager.link = self

    # --- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        self._manager.loop = asyncio.get_running_loop()
        self._report(
            CONNECTING,
            f"connecting to {self._manager.config['host']}:{self._manager.config['port']}",
        )
        self._manager.connect()

    async def wait_up(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await asyncio.wait_for(self._up.wait(), timeout)

    async def close(self) -> None:
        # panoramisk would reconnect after a close; a closed link must stay closed.
        self._closed = True
        self._manager.close()
        self._report(DOWN, "closed")
        if self._reports:
            await asyncio.wait(self._reports, timeout=2.0)

    # --- actions -------------------------------------------------------------------------
    async def send(self, action: Action) -> Message:
        """Send one action and return Asterisk's answer; AmiError on an error answer."""
        [answer] = await self._send(action, as_list=False)
        return answer

    async def send_list(self, action: Action) -> list[Message]:
        """Send a list action (CoreShowChannels, QueueStatus, ...); returns its events."""
        return await self._send(action, as_list=True)

    async def db_get(self, family: str, key: str) -> str | None:
        """An AstDB value; None when there is no such entry (Asterisk answers DBGet with an
        error then). ActionNotSent or TimeoutError when the answer is not known."""
        try:
            items = await self.send_list(db_get(family, key))
        except AmiError:
            return None  # "Database entry not found"
        return next((m.get("Val") for m in items if m.get("Event") == "DBGetResponse"), None)

    async def _send(self, action: Action, as_list: bool) -> list[Message]:
        if action.action_id is not None and action.action_id in self._sent_keys:
            raise DuplicateOriginate(f"{action.name} {action.action_id} was already sent")
        may_send, until = self._may_send, self._until_may_send
        if may_send is not None and until is not None and not may_send():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until(), self._timeout)
        protocol = self._manager.protocol
        if self.state not in (UP, RESYNCING) or protocol is None or protocol.closed:
            raise ActionNotSent(f"{action.name}: AMI link to {self.city} is {self.state}")
        if self._may_send is not None and not self._may_send():
            self.refused += 1
            raise ActionNotSent(f"{action.name}: this controller does not hold {self.city}'s lease")
        action_id = f"{_OUR_IDS}{action.action_id or next(self._ids)}"
        payload = action.encode(action_id)
        future: asyncio.Future[list[Message]] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = (action.name, future, as_list)
        if action.action_id is not None:
            self._sent_keys[action.action_id] = None
            if len(self._sent_keys) > SENT_KEYS_KEPT:
                self._sent_keys.popitem(last=False)
        protocol.transport.write(payload)
        self.sent.append(action.name)
        try:
            return await asyncio.wait_for(future, self._timeout)
        finally:
            self._pending.pop(action_id, None)
            self._list_items.pop(action_id, None)

    def _answer(self, message: Message, received: int = 0) -> None:
        action_id = message.action_id or ""
        pending = self._pending.get(action_id)
        if pending is None:
            if "Event" in message:
                # An event that carries our ActionID (OriginateResponse of an async Originate,
                # long after its "queued" answer): it is an event like any other.
                self._event(message, received)
            return  # else: the answer to an action that already timed out
        name, future, as_list = pending
        if "Event" in message and not as_list:
            # e.g. OriginateResponse after "Originate successfully queued". Checked before
            # the future: an immediate failure (Reason 0) arrives while the sender has not
            # yet woken from the answer, and was dropped as a late answer.
            self._event(message, received)
            return
        if future.done():
            return
        if "Response" in message:
            if message["Response"] == "Error":
                future.set_exception(error_for(name, message.get("Message") or "error"))
            elif not as_list:
                future.set_result([message])
            return
        if message.get("EventList") == "Complete":
            future.set_result(self._list_items.pop(action_id, []))
        else:
            self._list_items.setdefault(action_id, []).append(message)

    def _fail_pending(self, why: str) -> None:
        for name, future, _ in self._pending.values():
            if not future.done():
                future.set_exception(ActionNotSent(f"{name}: {why}"))

    # --- events and state ----------------------------------------------------------------
    @property
    def skew(self) -> Skew:
        """The PBX's clock against ours (pbx.skew), which places this link's events."""
        return self.pipeline.skew

    def _observe(self, messages: list[Message], received: int) -> None:
        """One sample of the skew per read: its latest stamp, the least lag of the read."""
        for message in reversed(messages):
            stamp = stamp_ms(message)
            if stamp is not None:
                self.pipeline.skew.observe(stamp, received)
                return

    def _event(self, message: Message, received: int = 0) -> None:
        received = received or self.clock()
        if self._buffer is not None:
            # Held until the resync has rebuilt the tracker (and the Ping has set the skew).
            self._buffer.append((message, received))
            return
        self.pipeline.feed_message(message, received)

    def _report(self, state: str, detail: str) -> None:
        if (state, detail) == (self.state, self.detail):
            return
        self.state, self.detail = state, detail
        log.info("ami %s: %s (%s)", self.city, state, detail)
        if state == UP:
            self._up.set()
        else:
            self._up.clear()
        if self._on_state is not None:
            result = self._on_state(state, detail)
            if result is not None:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:  # reported while the loop shuts down: nobody to tell
                    if inspect.iscoroutine(result):
                        result.close()
                    return
                # In order: two writes racing on two connections could leave the older
                # state last (seen: "resyncing" written after "up").
                future = asyncio.ensure_future(_after(self._last_report, result), loop=loop)
                self._last_report = future
                self._reports.add(future)
                future.add_done_callback(self._reports.discard)

    def _down(self, why: str) -> float:
        delay = self._backoff.next()
        self._buffer = None
        self._report(DOWN, f"{why}; reconnecting in {delay:.1f} s")
        return delay

    def _logged_in(self) -> None:
        self._buffer = []
        self.skew.reset()  # a restarted PBX, or a clock set meanwhile
        self._report(RESYNCING, "logged in; rebuilding live calls")
        # Kept referenced: the event loop holds tasks weakly, and a resync collected midway
        # would leave the link RESYNCING for ever.
        self._resync_task = asyncio.get_running_loop().create_task(self._resync())

    async def _resync(self) -> None:
        try:
            # The Ping's stamped answer sets the skew before the held events are placed.
            with contextlib.suppress(AmiError):  # then the events' own stamps set it
                await self.send(ping())
            items = await self.send_list(core_show_channels())
        except Exception as exc:
            log.warning("ami %s: resync failed: %s", self.city, exc)
            if self._manager.protocol is not None:
                self._manager.protocol.connection_lost(None)
            return
        channels = []
        for item in items:
            try:
                typed = ev.typed(item)
            except (MissingField, ValueError) as exc:
                log.warning("ami %s: resync item skipped: %s", self.city, exc)
                continue
            if isinstance(typed, ev.CoreShowChannel):
                channels.append(typed)
        self.pipeline.tracker.resync(channels)
        buffered, self._buffer = self._buffer or [], None
        for message, received in buffered:
            self.pipeline.feed_message(message, received)
        self._backoff.reset()
        self._report(UP, f"{len(channels)} live channels")

    async def queue_status(self) -> list[Message]:
        return await self.send_list(queue_status())
