"""The demo accounts: created once, and they log in."""

from __future__ import annotations

from api.seed import DEMO_PASSWORD, demo_users
from tests.api_support import Api, api, backend  # noqa: F401


async def test_demo_users_log_in(api: Api) -> None:
    seats = [("3001", "xy", {"general": 1}, "PJSIP/3001")]
    created = await demo_users(api.sessions, seats)
    # "admin" and "qa" exist in the fixture
    assert created == ["dispatcher", "qalead", "seat3001", "unit-zbg"]
    assert await demo_users(api.sessions, seats) == []  # a second run keeps what is there
    resp = await api.login("seat3001", DEMO_PASSWORD)
    assert resp.status_code == 200 and resp.json()["seat_id"] == "3001"
    token = resp.json()["token"]
    state = await api.client.post("/api/seat/login", headers={"Authorization": f"Bearer {token}"})
    assert state.json()["city"] == "xy"
    assert (await api.login("dispatcher", DEMO_PASSWORD)).json()["role"] == "dispatcher"
    unit = await api.login("unit-zbg", DEMO_PASSWORD)
    inbox = await api.client.get(
        "/api/tickets", headers={"Authorization": f"Bearer {unit.json()['token']}"}
    )
    assert (unit.json()["role"], inbox.status_code, inbox.json()["items"]) == ("unit", 200, [])
