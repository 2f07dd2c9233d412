"""An AMI server in front of a SimPbx, answering as Asterisk 22 does (texts from the captures).

Events carry ``Timestamp`` as with asterisk_conf/manager.conf's ``timestampevents = yes``,
taken from this process's clock when the PBX emits the event: a client that reads them late
(``hold_events``) still learns when each happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from pbx.framing import AmiFramer
from pbx.message import Message
from sim import conference, outbound
from sim import revisit as _revisit  # noqa: F401  (registers the [revisit-ivr] flow)
from sim.engine import SimPbx

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
RECEIVED_KEPT = 100_000


def _frame(headers: list[tuple[str, str]]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode("utf-8")


@dataclass(frozen=True, slots=True)
class Received:
    at: float  # time.monotonic() on arrival
    session: int  # AmiSession.serial of the client that sent it
    action: str  # lower case


class AmiSession:
    def __init__(self, server: AmiServer, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.pbx = server.pbx
        self.writer = writer
        self.logged_in = False
        self.events = True
        self.serial = next(server.serials)  # tells the received actions of two clients apart
        self.held: list[bytes] = []  # events written while the server holds them
        self._unlisten: Callable[[], None] | None = self.pbx.listen(self._event)

    def close(self) -> None:
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        self.writer.close()

    def _event(self, headers: list[tuple[str, str]]) -> None:
        if not (self.logged_in and self.events) or self.writer.is_closing():
            return
        if self.server.timestampevents:  # where Asterisk puts it: after Privilege
            headers = [*headers[:2], ("Timestamp", f"{time.time():.6f}"), *headers[2:]]
        if self.server.holding:
            self.held.append(_frame(headers))
        else:
            self.writer.write(_frame(headers))

    def release(self) -> None:
        held, self.held = self.held, []
        if held and not self.writer.is_closing():
            self.writer.write(b"".join(held))

    def _reply(self, aid: str | None, response: str, *extra: tuple[str, str]) -> None:
        if self.writer.is_closing():
            return  # the link dropped (see AmiServer.drop_on): the answer is lost
        headers = [("Response", response)]
        if aid is not None:
            headers.append(("ActionID", aid))
        self.writer.write(_frame(headers + list(extra)))

    def handle(self, msg: Message) -> bool:
        """Answer one action; False when the connection must close."""
        action = (msg.get("Action") or "").lower()
        aid = msg.get("ActionID")
        self.server.received.append(Received(time.monotonic(), self.serial, action))
        if self.server.on_action is not None and self.logged_in:
            self.server.on_action(msg)
        if action == "login":
            return self._login(msg, aid)
        if not self.logged_in:
            self._reply(aid, "Error", ("Message", "Permission denied"))
            return True
        if action in self.server.drop_on:
            # Fault injection: the link drops while Asterisk runs the action; no answer comes.
            self.server.drop_on.discard(action)
            self.close()
            handler = getattr(self, f"_a_{action}", None)
            if handler is not None:
                handler(msg, aid)
            return False
        handler = getattr(self, f"_a_{action}", None)
        if handler is None:
            name = msg.get("Action") or ""
            self._reply(
                aid,
                "Error",
                (
                    "Message",
                    f"Invalid/unknown command: {name}. "
                    "Use Action: ListCommands to show available commands.",
                ),
            )
            return True
        return bool(handler(msg, aid))

    def _login(self, msg: Message, aid: str | None) -> bool:
        if msg.get("Username") != self.server.username or msg.get("Secret") != self.server.secret:
            self._reply(aid, "Error", ("Message", "Authentication failed"))
            return False
        self.logged_in = True
        self.events = (msg.get("Events") or "on").lower() != "off"
        self._reply(aid, "Success", ("Message", "Authentication accepted"))
        self._event(
            [
                ("Event", "FullyBooted"),
                ("Privilege", "system,all"),
                ("Uptime", "1"),
                ("LastReload", "1"),
                ("Status", "Fully Booted"),
            ]
        )
        return True

    def _a_ping(self, msg: Message, aid: str | None) -> bool:
        self._reply(aid, "Success", ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}"))
        return True

    def _a_events(self, msg: Message, aid: str | None) -> bool:
        self.events = (msg.get("EventMask") or "on").lower() != "off"
        self._reply(aid, "Success", ("Events", "On" if self.events else "Off"))
        return True

    def _a_logoff(self, msg: Message, aid: str | None) -> bool:
        self._reply(aid, "Goodbye", ("Message", "Thanks for all the fish."))
        return False

    def _a_setvar(self, msg: Message, aid: str | None) -> bool:
        channel = msg.get("Channel")
        if channel is not None and self.pbx.find(channel) is None:
            self._reply(aid, "Error", ("Message", "No such channel"))
            return True
        # Asterisk answers first; the VarSet event follows the response (the captures).
        self._reply(aid, "Success", ("Message", "Variable Set"))
        self.pbx.setvar(channel, msg.get("Variable") or "", msg.get("Value") or "")
        return True

    def _a_getvar(self, msg: Message, aid: str | None) -> bool:
        value = self.pbx.getvar(msg.get("Channel"), msg.get("Variable") or "")
        if value is None:
            self._reply(aid, "Error", ("Message", "No such channel"))
        else:
            self._reply(aid, "Success", ("Variable", msg.get("Variable") or ""), ("Value", value))
        return True

    def _a_redirect(self, msg: Message, aid: str | None) -> bool:
        channel = msg.get("Channel") or ""
        if "ExtraChannel" in msg or msg.get("Context") == "conference":
            return self._refused_or(aid, lambda: conference.redirect(self.pbx, msg))
        try:
            ok = self.pbx.redirect(channel, msg.get("Context") or "", msg.get("Exten") or "")
        except ValueError as exc:
            self._reply(aid, "Error", ("Message", str(exc)))
            return True
        if ok:
            self._reply(aid, "Success", ("Message", "Redirect successful"))
        else:
            self._reply(aid, "Error", ("Message", f"Channel does not exist: {channel}"))
        return True

    def _a_hangup(self, msg: Message, aid: str | None) -> bool:
        # No Cause (or one out of 0..127): Asterisk hangs up anyway, reporting cause 0.
        raw = msg.get("Cause") or "0"
        cause = int(raw) if raw.isdigit() and int(raw) <= 127 else 0
        if self.pbx.hangup(msg.get("Channel") or "", cause):
            self._reply(aid, "Success", ("Message", "Channel Hungup"))
        else:
            self._reply(aid, "Error", ("Message", "No such channel"))
        return True

    def _a_originate(self, msg: Message, aid: str | None) -> bool:
        try:
            outbound.originate(self.pbx, msg, aid)
        except outbound.OriginateRefused as exc:
            self._reply(aid, "Error", ("Message", str(exc)))
            if exc.after is not None:
                exc.after()
            return True
        self._reply(aid, "Success", ("Message", "Originate successfully queued"))
        return True

    def _refused_or(self, aid: str | None, act: Callable[[], str]) -> bool:
        """Run a call-control action: Asterisk's refusal text as an Error (the engine raises
        LookupError/ValueError carrying it), else Success with the action's own message."""
        try:
            text = act()
        except (LookupError, ValueError) as exc:
            self._reply(aid, "Error", ("Message", str(exc).strip("'\"")))
            return True
        self._reply(aid, "Success", ("Message", text))
        return True

    def _a_blindtransfer(self, msg: Message, aid: str | None) -> bool:
        def run() -> str:
            conference.blind_transfer(self.pbx, msg)
            return "Transfer succeeded"

        return self._refused_or(aid, run)

    def _a_atxfer(self, msg: Message, aid: str | None) -> bool:
        def run() -> str:
            conference.atxfer(self.pbx, msg)
            return "Atxfer successfully queued"

        return self._refused_or(aid, run)

    def _a_dbget(self, msg: Message, aid: str | None) -> bool:
        family, key = msg.get("Family") or "", msg.get("Key") or ""
        value = outbound.db_get(self.pbx, family, key)
        if value is None:
            self._reply(aid, "Error", ("Message", "Database entry not found"))
            return True
        self._reply(aid, "Success", ("EventList", "start"), ("Message", "Result will follow"))
        tail = [("ActionID", aid)] if aid is not None else []
        self.writer.write(
            _frame(
                [
                    ("Event", "DBGetResponse"),
                    *tail,
                    ("Family", family),
                    ("Key", key),
                    ("Val", value),
                ]
            )
        )
        self.writer.write(
            _frame(
                [("Event", "DBGetComplete"), *tail, ("EventList", "Complete"), ("ListItems", "1")]
            )
        )
        return True

    def _a_dbgettree(self, msg: Message, aid: str | None) -> bool:
        """As main/db.c: every entry at or under Family[/Key], keys with their leading slash,
        in key order; an empty tree is an empty list, not an error."""
        prefix = "/".join(p for p in (msg.get("Family") or "", msg.get("Key") or "") if p)
        found = sorted(
            (key, value)
            for key, value in self.pbx.astdb.items()
            if not prefix or key == prefix or key.startswith(prefix + "/")
        )
        self._reply(aid, "Success", ("EventList", "start"), ("Message", "Result will follow"))
        tail = [("ActionID", aid)] if aid is not None else []
        for key, value in found:
            self.writer.write(
                _frame([("Event", "DBGetTreeResponse"), ("Key", f"/{key}"), ("Val", value), *tail])
            )
        self.writer.write(
            _frame(
                [
                    ("Event", "DBGetTreeComplete"),
                    *tail,
                    ("EventList", "Complete"),
                    ("ListItems", str(len(found))),
                ]
            )
        )
        return True

    def _a_mixmonitor(self, msg: Message, aid: str | None) -> bool:
        chan = self.pbx.find(msg.get("Channel") or "")
        if chan is None:
            self._reply(aid, "Error", ("Message", "No such channel"))
            return True
        # Asterisk answers with no Message, then MixMonitorStart (no file name in it).
        self._reply(aid, "Success")
        self.pbx.emit("MixMonitorStart", "call,all", chan)
        return True

    def _a_queuepause(self, msg: Message, aid: str | None) -> bool:
        # app_queue's answers, as in the capture `actions` (actions-14/15).
        interface = msg.get("Interface")
        paused = (msg.get("Paused") or "").lower()
        if not interface or paused not in ("true", "false", "yes", "no", "1", "0"):
            self._reply(aid, "Error", ("Message", "Need 'Interface' and 'Paused' parameters."))
            return True
        on = paused in ("true", "yes", "1")
        if not self.pbx.pause_member(interface, on, msg.get("Queue")):
            self._reply(aid, "Error", ("Message", "Interface not found"))
            return True
        word = "paused" if on else "unpaused"
        self._reply(aid, "Success", ("Message", f"Interface {word} successfully"))
        return True

    def _a_coreshowchannels(self, msg: Message, aid: str | None) -> bool:
        self._reply(aid, "Success", ("EventList", "start"), ("Message", "Channels will follow"))
        chans = self.pbx.live()
        now = time.monotonic()
        for chan in chans:
            headers = [("Event", "CoreShowChannel")]
            if aid is not None:
                headers.append(("ActionID", aid))
            headers += self.pbx.snapshot(chan)
            up = int(now - chan.created)
            headers += [
                ("Application", chan.app),
                ("ApplicationData", chan.app_data),
                ("Duration", f"{up // 3600:02d}:{up // 60 % 60:02d}:{up % 60:02d}"),
                ("BridgeId", chan.bridge),
            ]
            self.writer.write(_frame(headers))
        done = [("Event", "CoreShowChannelsComplete")]
        if aid is not None:
            done.append(("ActionID", aid))
        done += [("EventList", "Complete"), ("ListItems", str(len(chans)))]
        self.writer.write(_frame(done))
        return True


class AmiServer:
    def __init__(
        self,
        pbx: SimPbx,
        username: str = "hotline",
        secret: str = "sim",
        *,
        timestampevents: bool = True,
    ) -> None:
        self.pbx = pbx
        self.timestampevents = timestampevents  # manager.conf's setting of that name
        self.holding = False  # see hold_events
        self.username = username
        self.secret = secret
        self._server: asyncio.Server | None = None
        self.sessions: set[AmiSession] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.drop_on: set[str] = set()  # lower-case action names: drop the link on the next one
        self.serials = itertools.count(1)
        # The latest actions any client sent, in arrival order (which controller acted when);
        # bounded, as a demo's PBX runs for hours.
        self.received: deque[Received] = deque(maxlen=RECEIVED_KEPT)
        # Sees every action of a logged-in client before the PBX runs it (a chaos run's
        # ledger of what the PBX received: an action sent twice shows there).
        self.on_action: Callable[[Message], None] | None = None

    def hold_events(self) -> None:
        """Test hook: from now on events reach no client until ``release_events``, as for a
        controller that reads its stream late (a busy peak); they keep the time they
        happened. Answers to actions still go at once."""
        self.holding = True

    def release_events(self) -> None:
        """Every held event, in order, to its client."""
        self.holding = False
        for session in list(self.sessions):
            session.release()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        for session in list(self.sessions):
            session.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        handlers = [t for t in self._handlers if not t.done()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        # The simulated callers' own tasks end with the PBX.
        await outbound.stop(self.pbx)
        await self.pbx.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        writer.write(BANNER)
        session = AmiSession(self, writer)
        self.sessions.add(session)
        framer = AmiFramer()
        framer.feed(b"Asterisk Call Manager/client\r\n")  # clients send no banner
        try:
            while data := await reader.read(4096):
                for msg in framer.feed(data):
                    if not session.handle(msg):
                        await writer.drain()
                        return
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.sessions.discard(session)
            session.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
