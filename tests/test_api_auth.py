"""Auth through the ASGI app: login, tokens, rate limiting, and the role matrix of every route."""

from __future__ import annotations

import pytest

from api.auth import hash_password, verify_password
from store import keys
from tests.api_support import PASSWORD, Api, api, backend  # noqa: F401

ANY = {"seat", "dispatcher", "qa", "admin"}
SEAT = {"seat"}
DISPATCH = {"dispatcher", "admin"}
QA = {"qa", "admin"}
QA_LEAD = {"admin"}  # and qa_lead, which the fixture's staff does not have
LISTEN = {"seat", "qa", "admin"}
ADMIN = {"admin"}
LOOP = {"seat", "dispatcher", "admin"}
KB_READ = {"seat", "dispatcher", "admin"}
VISIT = {"seat", "dispatcher", "admin"}  # and the unit role, which has no account here
UNIT: set[str] = set()  # the unit role only, which has no account here

# Every route of the app and who may call it; the test fails if a route is missing here.
MATRIX: list[tuple[str, str, set[str]]] = [
    ("GET", "/api/auth/me", ANY),
    ("GET", "/api/seat/state", SEAT),
    ("POST", "/api/seat/login", SEAT),
    ("POST", "/api/seat/ready", SEAT),
    ("POST", "/api/seat/pause", SEAT),
    ("POST", "/api/seat/wrapup/end", SEAT),
    ("POST", "/api/seat/logout", SEAT),
    ("GET", "/api/seat/call", SEAT),
    ("GET", "/api/seat/calls", SEAT),
    ("GET", "/api/seat/calls/c1", SEAT),
    ("POST", "/api/seat/calls/c1/ticket", SEAT),
    ("GET", "/api/seat/departments", SEAT),
    ("POST", "/api/seat/conference", SEAT),
    ("POST", "/api/seat/conference/leave", SEAT),
    ("POST", "/api/seat/transfer", SEAT),
    ("GET", "/api/seat/events", SEAT),
    ("GET", "/api/dispatcher/cities", DISPATCH),
    ("GET", "/api/dispatcher/cities/xa", DISPATCH),
    ("GET", "/api/dispatcher/cities/xa/stats", DISPATCH),
    ("GET", "/api/dispatcher/cities/xa/history", DISPATCH),
    ("PUT", "/api/dispatcher/cities/xa/overflow", DISPATCH),
    ("PUT", "/api/dispatcher/cities/xa/helpers/xy", DISPATCH),
    ("DELETE", "/api/dispatcher/cities/xa/helpers/xy", DISPATCH),
    ("PUT", "/api/dispatcher/seats/1001/skills", DISPATCH),
    ("GET", "/api/dispatcher/callbacks", DISPATCH),
    ("POST", "/api/dispatcher/callbacks/1/now", DISPATCH),
    ("POST", "/api/dispatcher/spy", DISPATCH),
    ("GET", "/api/dispatcher/stream", DISPATCH),
    ("GET", "/api/qa/calls", QA),
    ("GET", "/api/qa/calls/c1", QA),
    ("GET", "/api/qa/rubric", QA),
    ("POST", "/api/qa/calls/c1/scores", QA),
    ("GET", "/api/qa/calls/c1/comments", QA),
    ("POST", "/api/qa/calls/c1/comments", QA),
    ("GET", "/api/qa/calls/c1/transcript", QA),
    ("PUT", "/api/qa/calls/c1/hold", QA),
    ("GET", "/api/qa/cities", QA),
    ("GET", "/api/qa/assignments", QA),
    ("GET", "/api/qa/appeals", QA),
    ("POST", "/api/qa/samples", QA_LEAD),
    ("POST", "/api/qa/assignments", QA_LEAD),
    ("POST", "/api/qa/appeals/1/resolve", QA_LEAD),
    ("GET", "/api/seat/qa/scores", SEAT),
    ("POST", "/api/seat/qa/scores/1/appeal", SEAT),
    ("GET", "/api/recordings/1/audio", LISTEN),
    ("POST", "/api/recordings/1/token", LISTEN),
    ("GET", "/api/recordings/1/transcript", LISTEN),
    ("GET", "/api/admin/users", ADMIN),
    ("POST", "/api/admin/users", ADMIN),
    ("PATCH", "/api/admin/users/1", ADMIN),
    ("DELETE", "/api/admin/users/999", ADMIN),
    ("GET", "/api/admin/seats", ADMIN),
    ("PUT", "/api/admin/seats/1003", ADMIN),
    ("DELETE", "/api/admin/seats/1003", ADMIN),
    ("GET", "/api/admin/cities", ADMIN),
    ("PUT", "/api/admin/cities/xa/rule", ADMIN),
    ("GET", "/api/admin/departments", ADMIN),
    ("POST", "/api/admin/departments", ADMIN),
    ("PUT", "/api/admin/departments/1", ADMIN),
    ("DELETE", "/api/admin/departments/1", ADMIN),
    ("PUT", "/api/admin/rubric", ADMIN),
    ("GET", "/api/admin/audit", ADMIN),
    ("GET", "/api/seat/pending", SEAT),
    ("POST", "/api/dispatcher/seats/1001/ready", DISPATCH),
    ("POST", "/api/dispatcher/seats/1001/logout", DISPATCH),
    ("GET", "/api/units", LOOP),
    ("GET", "/api/tickets", DISPATCH),
    ("GET", "/api/tickets/1", LOOP),
    ("POST", "/api/tickets/1/actions", LOOP),
    ("GET", "/api/visits", LOOP),
    ("GET", "/api/tickets-clearance", DISPATCH),
    # reports (and the leader role, which has no account here)
    ("GET", "/api/reports/weekly", DISPATCH),
    ("GET", "/api/reports/files", DISPATCH),
    ("GET", "/api/reports/files/x.html", DISPATCH),
    # knowledge base: seats read, editors (and the knowledge role) change
    ("GET", "/api/kb/suggestions", KB_READ),
    ("GET", "/api/kb/entries", KB_READ),
    ("GET", "/api/kb/entries/1", KB_READ),
    ("GET", "/api/kb/entries/1/revisions", ADMIN),
    ("POST", "/api/kb/entries/1/withdraw", ADMIN),
    ("POST", "/api/kb/revisions", ADMIN),
    ("GET", "/api/kb/revisions", ADMIN),
    ("POST", "/api/kb/revisions/1/decision", ADMIN),
    ("POST", "/api/kb/import", ADMIN),
    ("GET", "/api/kb/export", ADMIN),
    # other channels' batches; the return visit calls
    ("POST", "/api/intake/imports", DISPATCH),
    ("GET", "/api/tickets-stats", DISPATCH),
    ("POST", "/api/visits/1/calls", VISIT),
    ("GET", "/api/visits/1/calls", VISIT),
    ("GET", "/api/visit-calls", VISIT),
    # 办结 with attachments (the unit's), and their download (whoever may see the ticket)
    ("POST", "/api/ticket-replies/1", UNIT),
    ("GET", "/api/ticket-attachments/1", LOOP),
    ("POST", "/api/seat/signout", SEAT),  # ends the seat's session, as logout does
    ("POST", "/api/auth/logout", ANY),  # last: it ends the sessions used above
]
PUBLIC = {
    ("POST", "/api/auth/login"),
    ("GET", "/health"),
    ("GET", "/metrics"),
    ("GET", "/api/public/tickets/{number}"),
    # citizens' other doors: rate-limited and confirmed by an SMS code, or the gateway's token
    ("POST", "/api/intake/messages/{channel}"),
    ("POST", "/api/intake/confirm"),
    ("POST", "/api/intake/sms"),  # the citizen's lookup: number + last 4 digits
}
STREAMS = {"/api/seat/events", "/api/dispatcher/stream"}
# Ends the caller's session like logout: an allowed role is checked in tests/test_api_shift.py.
SESSION_ENDERS = {"/api/seat/signout"}


def test_password_hashes_are_argon2_and_verify() -> None:
    h = hash_password("s3cret-pass")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "s3cret-pass")
    assert not verify_password(h, "wrong")
    assert not verify_password(None, "anything")
    assert not verify_password("not-a-hash", "anything")


async def test_every_route_is_in_the_matrix(api: Api) -> None:
    paths = api.app.openapi()["paths"]
    routes = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    listed = set()
    for method, path, _ in MATRIX:
        template = next((p for m, p in routes if m == method and _matches(p, path)), None)
        assert template is not None, f"{method} {path} is not a route"
        listed.add((method, template))
    assert routes - listed - PUBLIC == set()


def _matches(template: str, path: str) -> bool:
    a, b = template.split("/"), path.split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b, strict=True))


async def test_role_matrix(api: Api) -> None:
    for method, path, allowed in MATRIX:
        resp = await api.client.request(method, path)
        assert resp.status_code == 401, (method, path, resp.status_code)
        assert resp.headers["www-authenticate"] == "Bearer"
        bad = await api.client.request(
            method, path, headers={"Authorization": "Bearer forged-token"}
        )
        assert bad.status_code == 401, (method, path)
        for role in sorted(ANY):
            if role in allowed and (path in STREAMS or path in SESSION_ENDERS):
                continue  # an allowed stream never ends; tests/test_api_streams.py reads them
            resp = await api.client.request(method, path, headers=api.role(role))
            if role in allowed:
                assert resp.status_code not in (401, 403), (method, path, role, resp.text)
            else:
                assert resp.status_code == 403, (method, path, role, resp.status_code)
                assert "role" in resp.json()["detail"]


async def test_login_me_logout(api: Api) -> None:
    resp = await api.login("seat1")
    body = resp.json()
    assert body["role"] == "seat" and body["seat_id"] == "1001" and body["expires_in_s"] > 0
    headers = {"Authorization": f"Bearer {body['token']}"}
    me = await api.client.get("/api/auth/me", headers=headers)
    assert me.json() == {
        "user_id": me.json()["user_id"],
        "username": "seat1",
        "role": "seat",
        "seat_id": "1001",
    }
    # The session token is not taken from the URL (only the live streams take ?token=).
    assert (await api.client.get(f"/api/auth/me?token={body['token']}")).status_code == 401
    assert (await api.client.post("/api/auth/logout", headers=headers)).status_code == 200
    assert (await api.client.get("/api/auth/me", headers=headers)).status_code == 401
    # Other sessions of the same user are untouched.
    assert (await api.client.get("/api/auth/me", headers=api.as_("seat1"))).status_code == 200


async def test_wrong_password_and_unknown_user_are_401(api: Api) -> None:
    assert (await api.login("seat1", "nope")).status_code == 401
    assert (await api.login("nobody", PASSWORD)).status_code == 401
    resp = await api.client.post("/api/auth/login", json={"username": "", "password": "x"})
    assert resp.status_code == 422
    resp = await api.client.post("/api/auth/login", json={"username": "a"})
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "password"]


async def test_login_is_rate_limited_per_username(api: Api) -> None:
    for _ in range(api.deps.login_failures):
        assert (await api.login("qa", "wrong-password")).status_code == 401
    blocked = await api.login("qa")  # even the right password, while blocked
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["retry-after"]) <= api.deps.login_window_s
    assert (await api.login("QA", "whatever")).status_code == 429  # case does not dodge it
    assert (await api.login("admin")).status_code == 200  # other users are not affected
    await api.redis.delete(keys.login_attempts("qa", "127.0.0.1"))  # the window passed
    assert (await api.login("qa")).status_code == 200


async def test_success_resets_the_failure_count(api: Api) -> None:
    for _ in range(api.deps.login_failures - 1):
        await api.login("qa", "wrong-password")
    assert (await api.login("qa")).status_code == 200
    for _ in range(api.deps.login_failures - 1):
        await api.login("qa", "wrong-password")
    assert (await api.login("qa")).status_code == 200


async def test_disabling_or_changing_role_ends_sessions(api: Api) -> None:
    me = await api.client.get("/api/auth/me", headers=api.as_("seat2"))
    user_id = me.json()["user_id"]
    resp = await api.client.patch(
        f"/api/admin/users/{user_id}", json={"role": "qa"}, headers=api.role("admin")
    )
    assert resp.status_code == 200 and resp.json()["role"] == "qa"
    assert (await api.client.get("/api/auth/me", headers=api.as_("seat2"))).status_code == 401
    relog = await api.login("seat2")
    assert relog.json()["role"] == "qa"
    await api.client.patch(
        f"/api/admin/users/{user_id}", json={"active": False}, headers=api.role("admin")
    )
    assert (await api.login("seat2")).status_code == 401


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "bearer  "])
async def test_malformed_authorization_is_401(api: Api, header: str) -> None:
    resp = await api.client.get("/api/auth/me", headers={"Authorization": header})
    assert resp.status_code == 401
