"""Simulated seat operators through the seat HTTP API (a real uvicorn, real Redis and DB)."""

from __future__ import annotations

import pytest

from acd.queue.types import SeatSpec, SeatState, Skill
from loadgen.seat_http import HttpSeats, SeatApiError
from store.errors import InvalidState
from tests.api_support import PASSWORD, Api, api, backend, served  # noqa: F401


async def test_operator_clicks_through_the_seat_api(api: Api) -> None:
    async with served(api.app) as base:
        seats = HttpSeats(base, PASSWORD, usernames={"1001": "seat1"})
        try:
            await seats.login(SeatSpec("1001", "xa", {Skill.general: 1}, "PJSIP/1001"))
            assert await seats.state("1001") is SeatState.paused  # signed in, not yet ready
            await seats.ready("1001")
            assert await seats.state("1001") is SeatState.ready
            await seats.pause("1001", "小休")
            assert await seats.state("1001") is SeatState.paused
            with pytest.raises(InvalidState):  # not in wrap-up: the API's 409
                await seats.end_wrapup("1001")
            with pytest.raises(SeatApiError):  # the API's 422 for an unknown reason
                await seats.pause("1001", "打游戏")
        finally:
            await seats.close()


async def test_wrong_password_and_unknown_seat_are_clear_errors(api: Api) -> None:
    async with served(api.app) as base:
        seats = HttpSeats(base, "wrong password", usernames={"1001": "seat1"})
        try:
            with pytest.raises(SeatApiError, match="login refused"):
                await seats.login(SeatSpec("1001", "xa", {Skill.general: 1}, "PJSIP/1001"))
            with pytest.raises(SeatApiError, match="not logged in"):
                await seats.ready("9999")
        finally:
            await seats.close()
