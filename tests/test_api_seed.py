"""The demo accounts: created once, and they log in."""

from __future__ import annotations

from api.seed import DEMO_KB_ENTRIES, DEMO_PASSWORD, demo_knowledge, demo_users
from tests.api_support import PASSWORD, Api, api, backend  # noqa: F401


async def test_demo_users_log_in(api: Api) -> None:
    seats = [("3001", "xy", {"general": 1}, "PJSIP/3001")]
    created = await demo_users(api.sessions, seats)
    # "admin" and "qa" exist in the fixture
    assert created == ["dispatcher", "qalead", "knowledge", "seat3001", "unit-zbg"]
    assert await demo_users(api.sessions, seats) == []  # a second run keeps what is there
    resp = await api.login("seat3001", DEMO_PASSWORD)
    assert resp.status_code == 200 and resp.json()["seat_id"] == "3001"
    token = resp.json()["token"]
    state = await api.client.post("/api/seat/login", headers={"Authorization": f"Bearer {token}"})
    assert state.json()["city"] == "xy"
    assert (await api.login("dispatcher", DEMO_PASSWORD)).json()["role"] == "dispatcher"
    assert (await api.login("knowledge", DEMO_PASSWORD)).json()["role"] == "knowledge"
    unit = await api.login("unit-zbg", DEMO_PASSWORD)
    inbox = await api.client.get(
        "/api/tickets", headers={"Authorization": f"Bearer {unit.json()['token']}"}
    )
    assert (unit.json()["role"], inbox.status_code, inbox.json()["items"]) == ("unit", 200, [])


async def test_demo_knowledge_seeds_an_empty_base_once(api: Api) -> None:
    assert await demo_knowledge(api.sessions) == DEMO_KB_ENTRIES
    assert await demo_knowledge(api.sessions) == 0  # a second run keeps what is there
    seat = {"Authorization": f"Bearer {(await api.login('seat1', PASSWORD)).json()['token']}"}
    found = await api.client.get("/api/kb/suggestions", params={"q": "社保卡丢了"}, headers=seat)
    assert "社保卡丢失补办" in [h["title"] for h in found.json()["hits"]]
