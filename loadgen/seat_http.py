"""Simulated seat operators working through the seat HTTP API, as a person at the seat page.

Each operator logs in with its own account (``seat<ID>``), gets a token, and clicks the same
buttons the page has: 签入, 就绪, 小休, 结束话后. Refusals come back as the domain errors the
API mapped them from, so the traffic generator treats them like the direct ACD's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from acd.queue.types import SeatSpec, SeatState
from store.errors import DomainError, InvalidState, NotFound


class SeatApiError(DomainError):
    """The API refused a seat's request for a reason other than its state."""


@dataclass
class HttpSeats:
    base_url: str  # e.g. http://127.0.0.1:8000
    password: str
    timeout_s: float = 10.0
    usernames: dict[str, str] = field(default_factory=dict)  # seat id -> account; else seat<ID>
    _tokens: dict[str, str] = field(default_factory=dict)
    _client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout_s)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _call(self, seat_id: str, method: str, path: str, body: object = None) -> object:
        token = self._tokens.get(seat_id)
        if token is None:
            raise SeatApiError(f"seat {seat_id} is not logged in to the API")
        try:
            resp = await self._http().request(
                method, path, json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.TransportError as exc:  # the API stopped (the demo ending) or is down
            raise SeatApiError(f"{method} {path} (seat {seat_id}): {exc!r}") from exc
        if resp.status_code == 409:
            raise InvalidState(resp.json().get("detail", resp.text))
        if resp.status_code == 404:
            raise NotFound(resp.json().get("detail", resp.text))
        if resp.status_code >= 400:
            raise SeatApiError(f"{method} {path} (seat {seat_id}): {resp.status_code} {resp.text}")
        return resp.json()

    async def login(self, spec: SeatSpec) -> None:
        """The account's seat profile (city, skills, endpoint) decides; ``spec`` names the seat."""
        resp = await self._http().post(
            "/api/auth/login",
            json={
                "username": self.usernames.get(spec.seat_id, f"seat{spec.seat_id}"),
                "password": self.password,
            },
        )
        if resp.status_code != 200:
            raise SeatApiError(f"seat {spec.seat_id}: login refused ({resp.status_code})")
        self._tokens[spec.seat_id] = str(resp.json()["token"])
        await self._call(spec.seat_id, "POST", "/api/seat/login")

    async def ready(self, seat_id: str) -> None:
        await self._call(seat_id, "POST", "/api/seat/ready")

    async def pause(self, seat_id: str, reason: str) -> None:
        await self._call(seat_id, "POST", "/api/seat/pause", {"reason": reason})

    async def end_wrapup(self, seat_id: str) -> None:
        await self._call(seat_id, "POST", "/api/seat/wrapup/end")

    async def state(self, seat_id: str) -> SeatState:
        body = await self._call(seat_id, "GET", "/api/seat/state")
        if not isinstance(body, dict) or "state" not in body:
            raise SeatApiError(f"seat {seat_id}: unexpected state reply {body!r}")
        return SeatState(body["state"])
