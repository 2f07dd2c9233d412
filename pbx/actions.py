"""AMI actions that cannot be injected.

Every value is checked before anything is written: CR, LF or NUL anywhere would end a header
line and let a caller-supplied string (a caller name, a number typed on a web page) smuggle a
second action into the stream. Channels, contexts, extensions and variable names must also
match their patterns. A refused value raises ``ActionValueError`` and nothing is sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_LINE_BREAKERS = re.compile(r"[\r\n\x00]")
_CHANNEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]*/[A-Za-z0-9_.@;+\-/#*:~]+$")
_CONTEXT = re.compile(r"^[A-Za-z0-9_\-]{1,79}$")
_EXTEN = re.compile(r"^[A-Za-z0-9_+*#\-.]{1,79}$")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,79}$")
_APPLICATION = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
_CONFERENCE = re.compile(r"^[A-Za-z0-9_\-]{1,79}$")
_IDEMPOTENCY = re.compile(r"^[A-Za-z0-9_\-.:]{1,64}$")

IDEMPOTENCY_VARIABLE = "HL_IDEMPOTENCY"


class ActionValueError(ValueError):
    """A value refused before sending; says which action, which field and why."""


@dataclass(frozen=True, slots=True)
class Action:
    """A validated action: its name and headers in order (repeats allowed, e.g. Variable)."""

    name: str
    headers: tuple[tuple[str, str], ...] = ()
    action_id: str | None = None  # set when the action's identity matters (idempotency)

    def encode(self, action_id: str) -> bytes:
        lines = [f"Action: {self.name}", f"ActionID: {action_id}"]
        lines += [f"{key}: {value}" for key, value in self.headers]
        text = "\r\n".join(lines) + "\r\n\r\n"
        if _LINE_BREAKERS.search(text.replace("\r\n", "")):
            # Unreachable through the builders below; a last guard for hand-made Actions.
            raise ActionValueError(f"{self.name}: a value contains CR, LF or NUL")
        return text.encode("utf-8")


def _clean(action: str, field: str, value: object) -> str:
    text = str(value)
    if _LINE_BREAKERS.search(text):
        raise ActionValueError(f"{action}: {field} contains CR, LF or NUL; nothing was sent")
    return text


def _match(action: str, field: str, value: str, pattern: re.Pattern[str]) -> str:
    text = _clean(action, field, value)
    if not pattern.match(text):
        raise ActionValueError(f"{action}: {field} {text[:60]!r} is not a valid {field.lower()}")
    return text


def _variables(action: str, variables: Mapping[str, str]) -> list[tuple[str, str]]:
    out = []
    for name, value in variables.items():
        _match(action, "Variable", name, _VARIABLE)
        out.append(("Variable", f"{name}={_clean(action, f'value of {name}', value)}"))
    return out


def originate(
    channel: str,
    *,
    context: str | None = None,
    exten: str | None = None,
    priority: int = 1,
    application: str | None = None,
    data: str | None = None,
    caller_id: str | None = None,
    timeout_ms: int = 30_000,
    variables: Mapping[str, str] | None = None,
    idempotency_key: str | None = None,
    async_: bool = True,
) -> Action:
    """Originate into a dialplan location or an application.

    The idempotency key becomes the ActionID and a channel variable, so a repeated attempt
    (after a reconnect, a restart, or from a second controller) can be recognised; the link
    refuses to send an Originate whose key it has already sent (see ``pbx.link``).
    """
    name = "Originate"
    headers = [("Channel", _match(name, "Channel", channel, _CHANNEL))]
    if application is not None:
        if context is not None or exten is not None:
            raise ActionValueError(f"{name}: give either application or context/exten")
        headers.append(("Application", _match(name, "Application", application, _APPLICATION)))
        if data is not None:
            headers.append(("Data", _clean(name, "Data", data)))
    elif context is not None and exten is not None:
        headers += [
            ("Context", _match(name, "Context", context, _CONTEXT)),
            ("Exten", _match(name, "Exten", exten, _EXTEN)),
            ("Priority", str(int(priority))),
        ]
    else:
        raise ActionValueError(f"{name}: needs context and exten, or an application")
    if caller_id is not None:
        headers.append(("CallerID", _clean(name, "CallerID", caller_id)))
    if not 1_000 <= timeout_ms <= 600_000:
        raise ActionValueError(f"{name}: timeout_ms {timeout_ms} outside 1000..600000")
    headers.append(("Timeout", str(timeout_ms)))
    var = dict(variables or {})
    action_id = None
    if idempotency_key is not None:
        _match(name, "idempotency key", idempotency_key, _IDEMPOTENCY)
        var[IDEMPOTENCY_VARIABLE] = idempotency_key
        action_id = f"orig-{idempotency_key}"
    headers += _variables(name, var)
    headers.append(("Async", "true" if async_ else "false"))
    return Action(name, tuple(headers), action_id)


def redirect(
    channel: str,
    context: str,
    exten: str,
    priority: int = 1,
    *,
    extra_channel: str | None = None,
) -> Action:
    name = "Redirect"
    ctx = _match(name, "Context", context, _CONTEXT)
    ext = _match(name, "Exten", exten, _EXTEN)
    headers = [
        ("Channel", _match(name, "Channel", channel, _CHANNEL)),
        ("Context", ctx),
        ("Exten", ext),
        ("Priority", str(int(priority))),
    ]
    if extra_channel is not None:
        headers += [
            ("ExtraChannel", _match(name, "ExtraChannel", extra_channel, _CHANNEL)),
            ("ExtraContext", ctx),
            ("ExtraExten", ext),
            ("ExtraPriority", str(int(priority))),
        ]
    return Action(name, tuple(headers))


def hangup(channel: str, cause: int | None = None) -> Action:
    headers = [("Channel", _match("Hangup", "Channel", channel, _CHANNEL))]
    if cause is not None:
        headers.append(("Cause", str(int(cause))))
    return Action("Hangup", tuple(headers))


def setvar(variable: str, value: str, channel: str | None = None) -> Action:
    """Set a channel variable, or a global one when ``channel`` is None."""
    headers = []
    if channel is not None:
        headers.append(("Channel", _match("Setvar", "Channel", channel, _CHANNEL)))
    headers += [
        ("Variable", _match("Setvar", "Variable", variable, _VARIABLE)),
        ("Value", _clean("Setvar", "Value", value)),
    ]
    return Action("Setvar", tuple(headers))


def getvar(variable: str, channel: str | None = None) -> Action:
    headers = []
    if channel is not None:
        headers.append(("Channel", _match("Getvar", "Channel", channel, _CHANNEL)))
    headers.append(("Variable", _match("Getvar", "Variable", variable, _VARIABLE)))
    return Action("Getvar", tuple(headers))


def _transfer(name: str, channel: str, context: str, exten: str) -> Action:
    return Action(
        name,
        (
            ("Channel", _match(name, "Channel", channel, _CHANNEL)),
            ("Context", _match(name, "Context", context, _CONTEXT)),
            ("Exten", _match(name, "Exten", exten, _EXTEN)),
        ),
    )


def atxfer(channel: str, context: str, exten: str) -> Action:
    return _transfer("Atxfer", channel, context, exten)


def blind_transfer(channel: str, context: str, exten: str) -> Action:
    return _transfer("BlindTransfer", channel, context, exten)


def mixmonitor(channel: str, file: str, options: str | None = None) -> Action:
    headers = [
        ("Channel", _match("MixMonitor", "Channel", channel, _CHANNEL)),
        ("File", _clean("MixMonitor", "File", file)),
    ]
    if options:
        headers.append(("Options", _clean("MixMonitor", "Options", options)))
    return Action("MixMonitor", tuple(headers))


def stop_mixmonitor(channel: str) -> Action:
    return Action(
        "StopMixMonitor", (("Channel", _match("StopMixMonitor", "Channel", channel, _CHANNEL)),)
    )


def confbridge_list(conference: str) -> Action:
    return Action(
        "ConfbridgeList",
        (("Conference", _match("ConfbridgeList", "Conference", conference, _CONFERENCE)),),
    )


def confbridge_kick(conference: str, channel: str) -> Action:
    return Action(
        "ConfbridgeKick",
        (
            ("Conference", _match("ConfbridgeKick", "Conference", conference, _CONFERENCE)),
            ("Channel", _match("ConfbridgeKick", "Channel", channel, _CHANNEL)),
        ),
    )


def db_get(family: str, key: str) -> Action:
    """Read one AstDB entry (a list action: DBGetResponse, then DBGetComplete)."""
    return Action(
        "DBGet",
        (
            ("Family", _match("DBGet", "Family", family, _CONFERENCE)),
            ("Key", _match("DBGet", "Key", key, _IDEMPOTENCY)),
        ),
    )


_FAMILY_PATH = re.compile(r"^[A-Za-z0-9_\-]{1,32}(/[A-Za-z0-9_\-]{1,32}){0,3}$")


def db_get_tree(family: str) -> Action:
    """Every AstDB entry under ``family`` (a list action: one DBGetTreeResponse each, then
    DBGetTreeComplete); the controller reads the dialplan's call journal with it."""
    return Action("DBGetTree", (("Family", _match("DBGetTree", "Family", family, _FAMILY_PATH)),))


def queue_status(queue: str | None = None) -> Action:
    if queue is None:
        return Action("QueueStatus")
    return Action("QueueStatus", (("Queue", _match("QueueStatus", "Queue", queue, _CONTEXT)),))


def queue_pause(
    interface: str, paused: bool, queue: str | None = None, reason: str | None = None
) -> Action:
    """Pause or unpause a queue member; without ``queue``, in every queue it belongs to."""
    headers: list[tuple[str, str]] = []
    if queue is not None:
        headers.append(("Queue", _match("QueuePause", "Queue", queue, _CONTEXT)))
    headers.append(("Interface", _match("QueuePause", "Interface", interface, _CHANNEL)))
    headers.append(("Paused", "true" if paused else "false"))
    if reason:
        headers.append(("Reason", _clean("QueuePause", "Reason", reason)))
    return Action("QueuePause", tuple(headers))


def core_show_channels() -> Action:
    return Action("CoreShowChannels")


def ping() -> Action:
    return Action("Ping")


# --- answers --------------------------------------------------------------------------
class AmiError(Exception):
    """Asterisk answered an action with an error; carries Asterisk's own message."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"{action}: {message}")
        self.action = action
        self.message = message


class NoSuchChannel(AmiError):
    """The channel is gone (it hung up a moment before the action arrived)."""


class PermissionDenied(AmiError):
    pass


class OriginateFailed(AmiError):
    pass


class ActionNotSent(Exception):
    """The link was down, or went down before Asterisk answered; the action was not retried."""


def error_for(action: str, message: str) -> AmiError:
    lower = message.lower()
    if lower.startswith("no such channel") or lower.startswith("channel does not exist"):
        return NoSuchChannel(action, message)
    if "permission denied" in lower:
        return PermissionDenied(action, message)
    if action == "Originate":
        return OriginateFailed(action, message)
    return AmiError(action, message)
