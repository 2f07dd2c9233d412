"""The ground truth of a chaos run: what each simulated PBX saw, kept apart from the product.

Every caller's life as the PBX lived it (arrived, handed to the ACD, which seats were dialled,
answered or not, how it ended) comes from the PBX's own events and its ``finished`` list;
every AMI action the PBX received is noted with the state of its channel at that moment, so
an action sent twice is a fact, not a guess: a Redirect to [acd-connect] for a caller already
in [acd-connect] (dialling a seat), or a second Originate of the same callback attempt key.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from pbx.message import Message
from sim.engine import SimPbx

Headers = list[tuple[str, str]]


@dataclass
class CallTruth:
    call_id: str
    city: str
    number: str
    placed: float
    routed: float | None = None
    answered: float | None = None
    seats: list[str] = field(default_factory=list)  # dial strings, in order
    ended: float | None = None
    fell_back: bool = False  # the dialplan's own fallback took the caller (HotlineFallback)
    outcome: str | None = None  # the PBX's, once the caller left

    def waited_s(self) -> float:
        """From the hand-over to the ACD to the answer or the hang-up (0: never handed over)."""
        if self.routed is None:
            return 0.0
        end = self.answered or self.ended or time.monotonic()
        return end - self.routed


@dataclass
class Ledger:
    calls: dict[str, CallTruth] = field(default_factory=dict)
    redirects: list[tuple[float, str]] = field(default_factory=list)  # (when, city)
    redirects_twice: int = 0
    originates: Counter[str] = field(default_factory=Counter)  # HL_TASK key -> times received
    _pbxs: dict[str, SimPbx] = field(default_factory=dict)

    def watch(self, pbx: SimPbx) -> tuple[Callable[[Headers], None], Callable[[Message], None]]:
        """The event listener and the action hook for one city's PBX."""
        self._pbxs[pbx.city] = pbx

        def on_event(headers: Headers) -> None:
            self._event(pbx.city, headers)

        def on_action(msg: Message) -> None:
            self._action(pbx, msg)

        pbx.listen(on_event)
        return on_event, on_action

    def _event(self, city: str, headers: Headers) -> None:
        name = headers[0][1]
        if name not in ("Newchannel", "UserEvent", "DialEnd", "Hangup"):
            return
        h = dict(headers)
        if name == "Newchannel":
            # A caller from the PSTN starts its own call (a callback's citizen leg is dialled
            # out on the callback's call: not a caller).
            if h.get("Context") == "from-pstn" and h.get("Uniqueid") == h.get("Linkedid"):
                call_id = h["Linkedid"]
                self.calls[call_id] = CallTruth(call_id, city, h["CallerIDNum"], time.monotonic())
            return
        call = self.calls.get(h.get("Linkedid", ""))
        if call is None or not h.get("Channel", "").startswith("PJSIP/pstn"):
            return
        if name == "Hangup":
            call.ended = time.monotonic()
        if name == "UserEvent" and h.get("UserEvent") == "HotlineRoute" and call.routed is None:
            call.routed = time.monotonic()
        elif name == "UserEvent" and h.get("UserEvent") == "HotlineFallback":
            call.fell_back = True
        elif name == "UserEvent" and h.get("UserEvent") == "SeatDial":
            call.seats.append(h.get("Seat", ""))
        elif name == "DialEnd" and h.get("DialStatus") == "ANSWER" and call.answered is None:
            call.answered = time.monotonic()

    def _action(self, pbx: SimPbx, msg: Message) -> None:
        action = (msg.get("Action") or "").lower()
        if action == "redirect" and msg.get("Context") == "acd-connect":
            self.redirects.append((time.monotonic(), pbx.city))
            chan = pbx.find(msg.get("Channel") or "")
            if chan is not None and chan.context == "acd-connect":
                self.redirects_twice += 1
        elif action == "originate":
            for item in msg.getall("Variable"):
                for pair in item.split(","):
                    key, _, value = pair.partition("=")
                    if key.strip() == "HL_TASK":
                        self.originates[value.strip()] += 1

    def close(self) -> None:
        """Take each caller's outcome from its PBX (None: still on the PBX)."""
        for pbx in self._pbxs.values():
            for item in pbx.finished:
                call = self.calls.get(item["call_id"])
                if call is not None:
                    call.outcome = item["outcome"]

    def originated_twice(self) -> int:
        return sum(n - 1 for n in self.originates.values() if n > 1)

    def first_redirect_after(self, moment: float) -> float | None:
        return next((t for t, _ in self.redirects if t >= moment), None)

    def stuck(self) -> list[CallTruth]:
        return [c for c in self.calls.values() if c.outcome is None]
