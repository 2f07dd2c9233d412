"""The controller's side of the IVR: AMI UserEvent headers -> typed, validated requests.

Pure functions over the header dict the AMI layer delivers (names and values as received). The
field names are those of docs/dialplan-contract.md. Every problem of one event is reported in
one EventError, so a bad event is understood from the log line alone.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ivr.menu import SKILLS
from store.privacy import mask_phone

_CALL_ID = re.compile(r"^(?:[A-Za-z0-9_-]{1,32}-)?\d{1,20}\.\d{1,10}$")  # [systemname-]epoch.seq
_CITY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_NUMBER = re.compile(r"^\+?\d{1,32}$")
_PATH = re.compile(r"^[0-9*#it]{0,32}$")
_ID = re.compile(r"^[1-9]\d{0,17}$")
_VISIT_RESULT = re.compile(r"^(?:[123]|none)$")
_ID = re.compile(r"^[1-9]\d{0,17}$")
_VISIT_RESULT = re.compile(r"^(?:[123]|none)$")
# What Asterisk puts in CALLERID(num) when the caller withheld the number.
_ANONYMOUS = {"", "anonymous", "unknown", "<unknown>", "restricted"}


class EventError(ValueError):
    """An IVR event that cannot be used; the message lists every problem."""


class CallbackReason(StrEnum):
    overload = "overload"
    closed = "closed"


@dataclass(frozen=True)
class RouteRequest:
    """`HotlineRoute`: hand this call to the ACD with this skill."""

    call_id: str
    city: str
    skill: str
    caller_num: str = field(repr=False)  # "" when withheld
    path: str
    priority: int

    @property
    def masked_caller(self) -> str:
        return mask_phone(self.caller_num)


@dataclass(frozen=True)
class CallbackRequest:
    """`CallbackAccepted`: call this caller back for this skill, keeping its place."""

    call_id: str
    city: str
    skill: str
    caller_num: str = field(repr=False)
    path: str
    reason: CallbackReason

    @property
    def masked_caller(self) -> str:
        return mask_phone(self.caller_num)


@dataclass(frozen=True)
class VisitResult:
    """`HotlineVisit`: the automated return visit's answer (`none`: no key, or hung up)."""

    call_id: str
    city: str
    ticket_id: int
    visit_id: int
    result: str  # "1" 满意, "2" 基本满意, "3" 不满意, "none"


class _Fields:
    """Reads and checks fields of one event, collecting every problem before raising."""

    def __init__(
        self, name: str, headers: Mapping[str, str], cities: Collection[str] | None
    ) -> None:
        self.name = name
        self.headers = headers
        self.cities = cities
        self.missing: list[str] = []
        self.problems: list[str] = []

    def get(self, key: str) -> str:
        value = self.headers.get(key)
        if value is None:
            self.missing.append(key)
            return ""
        return value.strip()

    def matching(self, key: str, pattern: re.Pattern[str], what: str) -> str:
        value = self.get(key)
        if key not in self.missing and not pattern.match(value):
            self.problems.append(f"{key} {value[:40]!r} is not {what}")
        return value

    def call_id(self) -> str:
        return self.matching("CallId", _CALL_ID, "an Asterisk unique id")

    def city(self) -> str:
        value = self.matching("City", _CITY, "a city id")
        if self.cities is not None and value and value not in self.cities and _CITY.match(value):
            self.problems.append(f"City {value!r} is not configured")
        return value

    def skill(self) -> str:
        value = self.get("Skill")
        if "Skill" not in self.missing and value not in SKILLS:
            self.problems.append(f"Skill {value[:40]!r} unknown (known: {', '.join(SKILLS)})")
        return value

    def caller(self, required: bool) -> str:
        value = self.get("CallerNum")
        if "CallerNum" in self.missing:
            return ""
        if value.lower() in _ANONYMOUS:
            if required:
                self.problems.append("CallerNum is withheld: nobody to call back")
            return ""
        if not _NUMBER.match(value):
            self.problems.append(f"CallerNum {mask_phone(value[:32])!r} is not a phone number")
        return value

    def priority(self) -> int:
        value = self.get("CallPriority")
        if "CallPriority" in self.missing:
            return 0
        if not value.isdigit() or int(value) > 9:
            self.problems.append(f"CallPriority {value[:10]!r} is not 0..9")
            return 0
        return int(value)

    def reason(self) -> CallbackReason:
        value = self.get("Reason")
        try:
            return CallbackReason(value)
        except ValueError:
            if "Reason" not in self.missing:
                self.problems.append(f"Reason {value[:20]!r} is not overload or closed")
            return CallbackReason.overload

    def done(self) -> None:
        problems = ([f"missing {', '.join(self.missing)}"] if self.missing else []) + self.problems
        if problems:
            raise EventError(f"{self.name}: " + "; ".join(problems))


def parse_route(headers: Mapping[str, str], cities: Collection[str] | None = None) -> RouteRequest:
    f = _Fields("HotlineRoute", headers, cities)
    route = RouteRequest(
        call_id=f.call_id(),
        city=f.city(),
        skill=f.skill(),
        caller_num=f.caller(required=False),
        path=f.matching("Path", _PATH, "a menu path"),
        priority=f.priority(),
    )
    f.done()
    return route


def parse_callback(
    headers: Mapping[str, str], cities: Collection[str] | None = None
) -> CallbackRequest:
    f = _Fields("CallbackAccepted", headers, cities)
    request = CallbackRequest(
        call_id=f.call_id(),
        city=f.city(),
        skill=f.skill(),
        caller_num=f.caller(required=True),
        path=f.matching("Path", _PATH, "a menu path"),
        reason=f.reason(),
    )
    f.done()
    return request


def parse_visit(headers: Mapping[str, str], cities: Collection[str] | None = None) -> VisitResult:
    """`HotlineVisit` of [revisit-ivr]; read by the visit runner, not the IVR."""
    f = _Fields("HotlineVisit", headers, cities)
    ticket = f.matching("Ticket", _ID, "a ticket id")
    visit = f.matching("Visit", _ID, "a visit id")
    result = VisitResult(
        call_id=f.call_id(),
        city=f.city(),
        ticket_id=int(ticket) if _ID.match(ticket) else 0,
        visit_id=int(visit) if _ID.match(visit) else 0,
        result=f.matching("Result", _VISIT_RESULT, "1, 2, 3 or none"),
    )
    f.done()
    return result
