"""Traffic for simulated cities: callers arriving, and seat operators at simulated softphones.

A city profile says how many seats with which skills, how often citizens call (a Poisson
process whose rate follows a time-of-day curve; a named ``peak`` curve holds the rush-hour
rate all day), what they press in the menu, how long they are willing to wait, and how the
seat operators behave: how often they answer a ringing phone, how long they talk and wrap
up, how often they bring a department into the call. Every draw comes from one seeded RNG
per city, so a run can be repeated.

Seat operators register and change state the way a seat does, through a ``SeatClient``
(loadgen.seats): ``DirectAcdSeats`` calls the ACD directly, ``HttpSeats``
(loadgen.seat_http) clicks through the seat API as a person at the seat page. They follow
their own calls on the simulated PBXs' event streams (a seat of one city can ring on another
city's PBX, over the inter-city trunk).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from acd.commands import stream as commands
from acd.queue.types import SeatSpec, SeatState, Skill
from loadgen.seats import SeatClient
from sim.engine import CallerScript, SeatBehaviour, SimPbx
from store.errors import DomainError

log = logging.getLogger(__name__)

MISSED_PAUSE_WAIT_S = 10.0  # how long an operator looks for the 未接来电 pause after a miss

# Calls per hour of the day, relative to the city's base rate (its busiest hour = 1.0).
# Government hotlines peak in the late morning and early afternoon.
PROFILES: dict[str, tuple[float, ...]] = {
    "day": (
        0.05, 0.03, 0.02, 0.02, 0.03, 0.05, 0.15, 0.35, 0.75, 1.0, 1.0, 0.85,
        0.55, 0.8, 0.95, 0.9, 0.75, 0.55, 0.35, 0.25, 0.2, 0.15, 0.1, 0.07,
    ),
    "peak": (1.0,) * 24,  # the rush hour all day (a heat wave, a policy announcement)
    "night": (
        0.3, 0.2, 0.15, 0.15, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5,
        0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.45, 0.4, 0.35,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class SeatProfile:
    seat_id: str
    skills: dict[Skill, int]
    answer_p: float = 0.95  # chance a ringing call is picked up
    answer_s: tuple[float, float] = (1.0, 3.0)  # uniform: seconds ringing before the pick-up
    talk_s: float = 6.0  # mean (exponential, with a floor of a fifth of it)
    wrapup_s: float = 2.0  # mean; the operator clicks "ready" after this (or the ACD's limit)
    conference_p: float = 0.0  # chance an answered call gets a department brought in
    pause_p: float = 0.0  # chance of a short break (小休) after a call
    pause_s: float = 5.0
    # Mean seconds before the operator sees 小休（未接来电）, the pause the ACD puts a seat in
    # after a missed ring, and clicks 就绪 (exponential, with a floor of a fifth of it).
    missed_back_s: float = 4.0


@dataclass(frozen=True)
class CityProfile:
    name: str
    label: str
    seats: tuple[SeatProfile, ...]
    calls_per_min: float  # at the busiest hour of the profile
    profile: str = "day"
    partners: tuple[str, ...] = ()
    # What callers press in the main menu (keys of asterisk_conf's IVR: 1 general,
    # 2 enterprise, t no input); probabilities, summing to 1.
    ivr_mix: tuple[tuple[str, float], ...] = (("1", 0.75), ("2", 0.2), ("t", 0.05))
    patience_s: float = 60.0  # mean of the abandon time (exponential, with a floor)
    patience_floor_s: float = 3.0
    tz: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown traffic profile {self.profile!r}; known: {sorted(PROFILES)}")
        total = sum(p for _, p in self.ivr_mix)
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"{self.name}: IVR mix sums to {total}, not 1")

    def rate_per_s(self, at: datetime) -> float:
        hour = at.astimezone(ZoneInfo(self.tz)).hour
        return self.calls_per_min / 60 * PROFILES[self.profile][hour]


def next_gap(rng: random.Random, city: CityProfile, at: datetime) -> float:
    """Seconds from ``at`` to the next arrival of a Poisson process whose rate follows the
    city's time-of-day curve: candidates at the top rate, each kept with probability
    rate(t) / top (thinning, Lewis and Shedler 1979)."""
    top = max(PROFILES[city.profile]) * city.calls_per_min / 60
    gap = 0.0
    while True:
        gap += rng.expovariate(top)
        if rng.random() * top <= city.rate_per_s(at + timedelta(seconds=gap)):
            return gap


@dataclass
class Counters:
    placed: int = 0
    conferences_asked: int = 0
    wrapups_ended: int = 0
    pauses: int = 0
    missed_back: int = 0  # 就绪 clicked after the ACD's 未接来电 pause


@dataclass
class Operator:
    """One seat operator: picks up (or not), talks, wraps up, sometimes takes a break."""

    profile: SeatProfile
    city: str
    rng: random.Random
    seats: SeatClient
    counters: Counters
    conference: Callable[[str, str, str], None] | None = None  # (call city, call id, seat)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def draw(self) -> SeatBehaviour:
        """How this operator handles the call ringing now."""
        p = self.profile
        if self.rng.random() >= p.answer_p:
            return SeatBehaviour(answer_after_s=None)
        talk = max(p.talk_s / 5, self.rng.expovariate(1 / p.talk_s))
        return SeatBehaviour(answer_after_s=self.rng.uniform(*p.answer_s), talk_s=talk)

    def answered(self, call_city: str, call_id: str) -> None:
        if self.conference is not None and self.rng.random() < self.profile.conference_p:
            self.counters.conferences_asked += 1
            self.conference(call_city, call_id, self.profile.seat_id)

    def hung_up(self) -> None:
        self._spawn(self._after_call())

    def missed(self) -> None:
        """The phone rang out: the ACD pauses the seat; the operator comes back to it."""
        self._spawn(self._after_miss())

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _after_call(self) -> None:
        p, seat = self.profile, self.profile.seat_id
        await asyncio.sleep(max(0.2, self.rng.expovariate(1 / p.wrapup_s)))
        try:
            if await self.seats.state(seat) is SeatState.wrapup:
                await self.seats.end_wrapup(seat)
                self.counters.wrapups_ended += 1
            if self.rng.random() < p.pause_p and await self.seats.state(seat) is SeatState.ready:
                await self.seats.pause(seat, "小休")
                self.counters.pauses += 1
                await asyncio.sleep(p.pause_s)
                await self.seats.ready(seat)
        except DomainError as exc:  # the ACD moved first (its own wrap-up limit, a new call)
            log.debug("sim seat %s (%s): %s", seat, self.city, exc)

    async def _after_miss(self) -> None:
        p, seat = self.profile, self.profile.seat_id
        await asyncio.sleep(max(p.missed_back_s / 5, self.rng.expovariate(1 / p.missed_back_s)))
        loop = asyncio.get_running_loop()
        # The controller pauses the seat when it hears of the miss; that can trail the ring.
        end = loop.time() + MISSED_PAUSE_WAIT_S
        try:
            while True:
                state = await self.seats.state(seat)
                if state is SeatState.paused:
                    await self.seats.ready(seat)
                    self.counters.missed_back += 1
                    return
                if state is not SeatState.ready or loop.time() > end:
                    return  # ringing again, on a call, logged out: nothing to come back from
                await asyncio.sleep(0.5)
        except DomainError as exc:
            log.debug("sim seat %s (%s): %s", seat, self.city, exc)


class Traffic:
    """Callers and seat operators for a set of simulated cities."""

    def __init__(
        self,
        cities: list[tuple[CityProfile, SimPbx]],
        seats: SeatClient,
        *,
        seed: int = 12345,
        redis: Redis | None = None,
        departments: tuple[int, ...] = (),
        conferences: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.cities = cities
        self.seats = seats
        self.clock = clock
        self.counters = Counters()
        self.redis = redis
        self.departments = departments
        self.operators: dict[str, Operator] = {}
        self._rngs = {c.name: random.Random(f"{seed}:{c.name}") for c, _ in cities}
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []  # the arrival processes
        self._asks: set[asyncio.Task[None]] = set()  # conference requests on their way
        self._leg_seat: dict[str, str] = {}  # uniqueid of a dialled seat leg -> seat id
        self._answered: set[str] = set()
        ask = self._ask_conference if conferences and redis is not None and departments else None
        for city, pbx in cities:
            rng = self._rngs[city.name]
            for sp in city.seats:
                op = Operator(sp, city.name, random.Random(rng.random()), seats, self.counters)
                op.conference = ask
                self.operators[sp.seat_id] = op
            pbx.seat_dice = self._draw
            pbx.listen(self._event_of(city.name))

    # --- seats ---------------------------------------------------------------------------
    async def staff(self) -> None:
        """Every operator logs in and gets ready, as at the start of a shift."""
        for city, _pbx in self.cities:
            for sp in city.seats:
                await self.seats.login(
                    SeatSpec(sp.seat_id, city.name, sp.skills, f"PJSIP/{sp.seat_id}")
                )
                await self.seats.ready(sp.seat_id)

    def _draw(self, seat_id: str) -> SeatBehaviour | None:
        op = self.operators.get(seat_id)
        return None if op is None else op.draw()

    def _event_of(self, city: str) -> Callable[[list[tuple[str, str]]], None]:
        def on_event(headers: list[tuple[str, str]]) -> None:
            name = headers[0][1]
            if name not in ("Newchannel", "DialEnd", "Hangup"):
                return
            h = dict(headers)
            if name == "Newchannel" and h.get("Context") == "seats":
                self._leg_seat[h["Uniqueid"]] = h["Exten"]
            elif name == "DialEnd" and h.get("DialStatus") == "ANSWER":
                seat = self._leg_seat.get(h.get("DestUniqueid", ""))
                if seat in self.operators:
                    self._answered.add(h["DestUniqueid"])
                    self.operators[seat].answered(city, h.get("Linkedid", ""))
            elif name == "DialEnd" and h.get("DialStatus") == "NOANSWER":
                seat = self._leg_seat.get(h.get("DestUniqueid", ""))
                if seat in self.operators:
                    self.operators[seat].missed()
            elif name == "Hangup":
                seat = self._leg_seat.pop(h.get("Uniqueid", ""), None)
                if seat in self.operators and h["Uniqueid"] in self._answered:
                    self._answered.discard(h["Uniqueid"])
                    self.operators[seat].hung_up()

        return on_event

    def _ask_conference(self, city: str, call_id: str, seat_id: str) -> None:
        assert self.redis is not None
        rng = self._rngs[city]
        fields = {
            "call_id": call_id,
            "seat_id": seat_id,
            "department_id": str(rng.choice(self.departments)),
            "stay": "0",
        }

        async def submit() -> None:
            # Not at once: the seat talks to the caller first, then brings the department in.
            await asyncio.sleep(1.0)
            if self.redis is not None:
                await commands.submit(self.redis, city, "conference", fields)

        task = asyncio.get_running_loop().create_task(submit())
        self._asks.add(task)
        task.add_done_callback(self._asks.discard)

    # --- callers -------------------------------------------------------------------------
    def caller(self, city: CityProfile, n: int) -> CallerScript:
        rng = self._rngs[city.name]
        pick, digits = rng.random(), city.ivr_mix[-1][0]
        for key, p in city.ivr_mix:
            if pick < p:
                digits = key
                break
            pick -= p
        patience = max(city.patience_floor_s, rng.expovariate(1 / city.patience_s))
        index = [c.name for c, _ in self.cities].index(city.name)
        # 13x: x the city's place (mod 10), so ten cities all get 11-digit mobile numbers.
        return CallerScript(f"13{(index + 1) % 10}{n % 100_000_000:08d}", digits, patience)

    async def _arrivals(self, city: CityProfile, pbx: SimPbx) -> None:
        """A Poisson process with a time-varying rate, by thinning (Lewis and Shedler)."""
        rng = self._rngs[city.name]
        if city.calls_per_min <= 0:
            return
        n = 0
        while not self._stop.is_set():
            await asyncio.sleep(next_gap(rng, city, self.clock()))
            task = asyncio.current_task()
            if self._stop.is_set() or (task is not None and task.cancelling()):
                return
            n += 1
            self.counters.placed += 1
            pbx.place_call(self.caller(city, n))

    def start(self) -> None:
        for city, pbx in self.cities:
            self._tasks.append(asyncio.get_running_loop().create_task(self._arrivals(city, pbx)))

    def stop_arrivals(self, city: str) -> None:
        """No new callers in ``city`` (its PBX is gone); the other cities carry on."""
        for (profile, _pbx), task in zip(self.cities, self._tasks, strict=False):
            if profile.name == city:
                task.cancel()

    async def stop(self) -> None:
        """No new callers; operators' pending clicks are dropped."""
        self._stop.set()
        tasks = [
            *self._tasks,
            *self._asks,
            *(t for op in self.operators.values() for t in op.tasks),
        ]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
