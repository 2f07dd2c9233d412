"""The path each caller took through the menu, as data the ACD/statistics side can store.

Fed with the typed events of ivr.events (plus the hang-up of a call still in the menu); holds
only calls that are still in the menu, bounded so a lost end event cannot grow it forever.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from ivr.events import CallbackRequest, CallEnter, IvrChoice, RouteRequest


class Outcome(StrEnum):
    routed = "routed"  # handed to the ACD (HotlineRoute)
    callback = "callback"  # accepted a callback offer
    hangup = "hangup"  # hung up while still in the menu
    evicted = "evicted"  # never finished as far as we saw (recorder was full)


@dataclass(frozen=True)
class Step:
    menu: str
    digit: str  # a key, `t` (no input) or `i` (invalid)
    branch: str


@dataclass
class CallPath:
    call_id: str
    city: str
    steps: list[Step] = field(default_factory=list)
    outcome: Outcome | None = None
    skill: str = ""

    @property
    def digits(self) -> str:
        return "".join(s.digit for s in self.steps)

    def as_record(self) -> dict[str, str | int]:
        """Flat row for storage: no phone number, only what the caller chose."""
        return {
            "call_id": self.call_id,
            "city": self.city,
            "menu": self.steps[0].menu if self.steps else "",
            "digits": self.digits,
            "branches": ",".join(s.branch for s in self.steps),
            "invalid": sum(s.digit == "i" for s in self.steps),
            "outcome": self.outcome.value if self.outcome else "",
            "skill": self.skill,
        }


class PathRecorder:
    """Collects IvrChoice steps per call; returns the finished path on route/callback/hang-up."""

    def __init__(self, max_pending: int = 10_000) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.max_pending = max_pending
        self._pending: OrderedDict[str, CallPath] = OrderedDict()
        self.evicted: list[CallPath] = []

    def __len__(self) -> int:
        return len(self._pending)

    def _path(self, call_id: str, city: str) -> CallPath:
        path = self._pending.get(call_id)
        if path is None:
            path = self._pending[call_id] = CallPath(call_id, city)
            while len(self._pending) > self.max_pending:
                _, old = self._pending.popitem(last=False)
                old.outcome = Outcome.evicted
                self.evicted.append(old)
        return path

    def enter(self, event: CallEnter) -> None:
        """Start the path at answer, so a hang-up during the welcome is counted too."""
        self._path(event.call_id, event.city)

    def choice(self, event: IvrChoice) -> None:
        self._path(event.call_id, event.city).steps.append(
            Step(event.menu, event.digit, event.branch)
        )

    def routed(self, event: RouteRequest) -> CallPath:
        return self._finish(event.call_id, event.city, Outcome.routed, event.skill)

    def callback(self, event: CallbackRequest) -> CallPath:
        return self._finish(event.call_id, event.city, Outcome.callback, event.skill)

    def hangup(self, call_id: str) -> CallPath | None:
        """A hang-up: the path if the call was still in the menu, else None."""
        path = self._pending.pop(call_id, None)
        if path is not None:
            path.outcome = Outcome.hangup
        return path

    def _finish(self, call_id: str, city: str, outcome: Outcome, skill: str) -> CallPath:
        path = self._pending.pop(call_id, None) or CallPath(call_id, city)
        path.outcome, path.skill = outcome, skill
        return path


@dataclass(frozen=True)
class MenuStats:
    pressed: Counter[tuple[str, str]]  # (menu, digit) -> calls that pressed it at least once
    outcomes: Counter[str]
    skills: Counter[str]

    def callers_who_pressed(self, menu: str, digit: str) -> int:
        return self.pressed[(menu, digit)]


def summarize(paths: Iterable[CallPath]) -> MenuStats:
    pressed: Counter[tuple[str, str]] = Counter()
    outcomes: Counter[str] = Counter()
    skills: Counter[str] = Counter()
    for path in paths:
        pressed.update({(s.menu, s.digit) for s in path.steps})
        outcomes[path.outcome.value if path.outcome else "open"] += 1
        if path.outcome is Outcome.routed:
            skills[path.skill] += 1
    return MenuStats(pressed, outcomes, skills)
