"""Security holes of issue 14, each shown closed through real HTTP on the ASGI app (real
Redis, real database, real argon2, real uvicorn for the streams)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from acd.commands import stream as commands
from api import auth
from api.app import create_app
from api.models import AuditEntry
from api.seed import DEMO_PASSWORD
from api.services import users
from recording.models import Recording
from tests.api_support import PASSWORD, Api, api, backend, served  # noqa: F401
from tests.test_api_seat import _controller, talking


@dataclasses.dataclass
class Client:
    """Another client address on the same app."""

    http: httpx.AsyncClient

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        return await self.http.post(
            "/api/auth/login", json={"username": username, "password": password}
        )


async def _from(api: Api, ip: str) -> AsyncIterator[Client]:
    transport = httpx.ASGITransport(app=api.app, client=(ip, 4242))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield Client(http)


# --- login DoS ------------------------------------------------------------------------
async def test_password_hashing_runs_off_the_event_loop(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []

    class Watched(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            threads.append(threading.get_ident())
            return super().verify(hash, password)

    monkeypatch.setattr(auth, "_hasher", Watched())
    assert (await api.login("qa", "wrong-password")).status_code == 401
    assert (await api.login("qa")).status_code == 200
    assert len(threads) == 2
    assert threading.get_ident() not in threads  # never on the loop the controllers share


async def test_a_stranger_cannot_lock_the_real_user_out(api: Api) -> None:
    async for stranger in _from(api, "203.0.113.9"):
        for _ in range(api.deps.login_failures):
            assert (await stranger.login("admin", "guess-guess")).status_code == 401
        blocked = await stranger.login("admin")
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    # The admin, from its own address, still logs in.
    assert (await api.login("admin")).status_code == 200


async def test_one_address_trying_many_accounts_is_stopped(api: Api) -> None:
    async for sprayer in _from(api, "198.51.100.7"):
        for i in range(api.deps.login_ip_failures):
            assert (await sprayer.login(f"user{i}", "Winter2026!")).status_code == 401
        refused = await sprayer.login("seat2")  # even a right password, from that address
        assert refused.status_code == 429 and "该地址" in refused.json()["detail"]
    assert (await api.login("seat2")).status_code == 200  # other addresses are not affected


async def test_a_burst_of_logins_is_refused_beyond_the_global_guard(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = PasswordHasher(time_cost=3, memory_cost=32 * 1024, parallelism=1).hash(PASSWORD)
    await users.create(api.sessions, "slow", "", "qa", password_hash=slow)
    monkeypatch.setattr(auth, "_VERIFY_AT_ONCE", 1)
    monkeypatch.setattr(auth, "_VERIFY_QUEUE", 2)
    monkeypatch.setattr(auth, "_verifying", None)
    clients = [_from(api, f"192.0.2.{i}") for i in range(12)]
    try:
        ones = [await anext(c) for c in clients]
        answers = await asyncio.gather(*(c.login("slow", "wrong-one") for c in ones))
    finally:
        for c in clients:
            await c.aclose()
    codes = sorted(a.status_code for a in answers)
    assert 401 in codes and 429 in codes, codes
    busy = [a for a in answers if a.status_code == 429]
    assert all("繁忙" in a.json()["detail"] for a in busy)


# --- live streams ---------------------------------------------------------------------
async def test_streams_per_user_are_limited_and_given_back(api: Api) -> None:
    limit = api.deps.streams_per_user
    token = api.tokens["disp"]
    url = f"/api/dispatcher/stream?city=xa&token={token}"
    async with served(api.app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
        opened = []
        try:
            for _ in range(limit):
                resp = await client.send(client.build_request("GET", url), stream=True)
                assert resp.status_code == 200
                opened.append(resp)
            refused = await client.get(url)
            assert refused.status_code == 429
            assert "实时数据连接过多" in refused.json()["detail"]
            # Another user is not affected.
            other = await client.send(
                client.build_request(
                    "GET", f"/api/dispatcher/stream?city=xa&token={api.tokens['admin']}"
                ),
                stream=True,
            )
            assert other.status_code == 200
            await other.aclose()
            # A closed stream gives its slot back.
            await opened.pop().aclose()
            again = None
            for _ in range(200):
                again = await client.send(client.build_request("GET", url), stream=True)
                if again.status_code == 200:
                    break
                await again.aclose()
                await asyncio.sleep(0.05)
            assert again is not None and again.status_code == 200
            opened.append(again)
        finally:
            for resp in opened:
                await resp.aclose()


async def test_controllers_use_a_pool_of_their_own(api: Api) -> None:
    from hotline.serve import own_pool

    mine = own_pool(api.redis)
    try:
        assert mine.connection_pool is not api.redis.connection_pool
        await api.redis.set("hl:test:pool", "same server")
        assert await mine.get("hl:test:pool") == "same server"
    finally:
        await mine.aclose()


# --- tokens in URLs -------------------------------------------------------------------
async def test_session_token_only_in_stream_urls(api: Api) -> None:
    token = api.tokens["qa"]
    for path in ("/api/auth/me", "/api/qa/calls", "/api/qa/rubric"):
        resp = await api.client.get(f"{path}?token={token}")
        assert resp.status_code == 401, path


async def _recording(api: Api, path: Path, call_id: str = "xa-r1", seat: str = "1001") -> int:
    async with api.sessions.begin() as session:
        row = Recording(
            call_id=call_id,
            city="xa",
            seat_id=seat,
            speaker="mixed",
            path=str(path),
            format="wav-pcm16",
            duration_s=1.0,
            size_bytes=0,
            sha256=hashlib.sha256(b"").hexdigest(),
            started_at=datetime.now(UTC),
        )
        session.add(row)
        await session.flush()
        return row.id


async def test_audio_takes_a_short_token_for_one_recording(api: Api, tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"RIFF-one")
    (tmp_path / "b.wav").write_bytes(b"RIFF-two")
    one = await _recording(api, tmp_path / "a.wav", "xa-r1", "1001")
    two = await _recording(api, tmp_path / "b.wav", "xa-r2", "1002")
    # The 12-hour session token is not taken from the audio URL.
    session_url = f"/api/recordings/{one}/audio?token={api.tokens['qa']}"
    assert (await api.client.get(session_url)).status_code == 401
    minted = await api.client.post(f"/api/recordings/{one}/token", headers=api.role("qa"))
    assert minted.status_code == 200
    body = minted.json()
    assert body["expires_in_s"] == 300
    assert 0 < await api.redis.ttl(auth.keys.recording_token(auth._digest(body["token"]))) <= 300
    assert (await api.client.get(body["url"])).content == b"RIFF-one"
    # Bound to its recording: it does not open another one.
    other = await api.client.get(f"/api/recordings/{two}/audio?token={body['token']}")
    assert other.status_code == 401
    # Nor does it work as a session token.
    me = await api.client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 401
    # A seat gets one only for its own calls' recordings.
    assert (
        await api.client.post(f"/api/recordings/{two}/token", headers=api.as_("seat1"))
    ).status_code == 403
    # Every playback with it is audited under the user who asked for it.
    async with api.sessions() as session:
        rows = (await session.scalars(select(AuditEntry).where(AuditEntry.username == "qa"))).all()
    assert [r.action for r in rows] == ["recording.play"]
    # Ending the user's sessions ends its audio tokens too.
    me = await api.client.get("/api/auth/me", headers=api.as_("qa"))
    await auth.revoke_user(api.redis, me.json()["user_id"])
    assert (await api.client.get(body["url"])).status_code == 401


async def test_playback_refuses_paths_out_of_the_recordings_dir(
    api: Api, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "secret.wav"
    outside.write_bytes(b"not a recording")
    link = tmp_path / "link.wav"
    link.symlink_to(outside)
    for path in (link, outside, tmp_path / ".." / outside.parent.name / "secret.wav"):
        rid = await _recording(api, path, f"xa-{path.name}-{len(str(path))}")
        resp = await api.client.get(f"/api/recordings/{rid}/audio", headers=api.role("qa"))
        assert resp.status_code == 404, path
        assert b"not a recording" not in resp.content


# --- HTTP hardening -------------------------------------------------------------------
async def test_security_headers_on_pages_api_and_errors(api: Api) -> None:
    for resp in (
        await api.client.get("/seat"),
        await api.client.get("/api/auth/me", headers=api.role("seat")),
        await api.client.get("/api/auth/me"),  # 401
        await api.client.get("/static/common.js"),
    ):
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["x-frame-options"] == "DENY"
        assert resp.headers["referrer-policy"] == "no-referrer"
        csp = resp.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp


async def test_large_bodies_are_refused_with_413(api: Api) -> None:
    huge = "x" * (5 * 1024 * 1024)
    resp = await api.client.post("/api/auth/login", json={"username": "qa", "password": huge})
    assert resp.status_code == 413 and "请求内容过大" in resp.json()["detail"]
    assert huge[:1000] not in resp.text

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        yield b'{"username": "qa", "password": "'
        for _ in range(100):
            yield b"y" * 10_000
        yield b'"}'

    resp = await api.client.post(
        "/api/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413
    assert (await api.login("qa")).status_code == 200  # nothing else is affected


async def test_validation_errors_do_not_echo_the_input(api: Api) -> None:
    secret = "my-real-password-" * 20  # over the 200 characters a password may have
    resp = await api.client.post("/api/auth/login", json={"username": "qa", "password": secret})
    assert resp.status_code == 422
    assert "my-real-password" not in resp.text
    [error] = resp.json()["detail"]
    assert error["loc"] == ["body", "password"] and error["msg"]
    body = {"username": "u1", "password": "Secret-pass-99", "role": "root"}
    resp = await api.client.post("/api/admin/users", json=body, headers=api.role("admin"))
    assert resp.status_code == 422 and "Secret-pass-99" not in resp.text


async def test_docs_and_schema_are_off_in_production(api: Api) -> None:
    assert (await api.client.get("/openapi.json")).status_code == 200
    prod = create_app(dataclasses.replace(api.deps, production=True))
    transport = httpx.ASGITransport(app=prod)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await client.get(path)).status_code == 404, path
        assert (await client.get("/seat")).status_code == 200


# --- demo passwords in production -----------------------------------------------------
async def test_production_refuses_demo_passwords(api: Api) -> None:
    await users.create(api.sessions, "demo1", DEMO_PASSWORD, "qa")
    assert (await api.login("demo1", DEMO_PASSWORD)).status_code == 200  # development: fine
    prod = create_app(dataclasses.replace(api.deps, production=True))
    transport = httpx.ASGITransport(app=prod)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        body = {"username": "demo1", "password": DEMO_PASSWORD}
        resp = await client.post("/api/auth/login", json=body)
        assert resp.status_code == 403 and "演示密码" in resp.json()["detail"]
        assert "token" not in resp.json()
        ok = await client.post("/api/auth/login", json={"username": "qa", "password": PASSWORD})
        assert ok.status_code == 200
        # Nor may an admin give an account a demo password there.
        admin = {"Authorization": f"Bearer {api.tokens['admin']}"}
        new = {"username": "demo2", "password": DEMO_PASSWORD, "role": "qa"}
        resp = await client.post("/api/admin/users", json=new, headers=admin)
        assert resp.status_code == 422 and "演示密码" in resp.json()["detail"]


async def test_serve_refuses_to_start_in_production_with_demo_accounts(api: Api) -> None:
    from hotline.serve import refuse_demo_passwords
    from hotline.settings import ConfigError, Settings

    engine = api.deps.engine
    prod = Settings(env="production", secret_key="a-real-secret-of-length")  # type: ignore[arg-type]
    await refuse_demo_passwords(prod, engine)  # the staff have real passwords: it starts
    await users.create(api.sessions, "dispatcher", DEMO_PASSWORD, "dispatcher", "9009")
    with pytest.raises(ConfigError) as refused:
        await refuse_demo_passwords(prod, engine)
    message = str(refused.value)
    assert "dispatcher" in message and "\n" not in message
    await refuse_demo_passwords(Settings(), engine)  # development starts anyway


def test_hotline_serve_in_production_stops_with_one_line(tmp_path: Path) -> None:
    from tests.test_cli import run

    env = {
        "HOTLINE_DATA_DIR": str(tmp_path / "d"),
        "HOTLINE_ENV": "production",
        "HOTLINE_SECRET_KEY": "a-production-secret-0123",
    }
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    add = ["users", "add", "admin", "--role", "admin", "--password-env", "PW"]
    assert run(add, env | {"PW": DEMO_PASSWORD}, tmp_path).returncode == 0
    done = run(["serve", "--port", "0"], env, tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "demo password" in lines[0] and "admin" in lines[0], lines
    assert "Traceback" not in done.stdout + done.stderr


# --- audit and city scope -------------------------------------------------------------
async def _audit(api: Api) -> list[AuditEntry]:
    async with api.sessions() as session:
        return list((await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())


async def test_spy_role_changes_and_overflow_switches_are_audited(api: Api) -> None:
    await talking(api, "xa-c9")
    h = api.role("dispatcher")
    resp, _ = await asyncio.gather(
        api.client.post(
            "/api/dispatcher/spy", json={"seat_id": "1001", "mode": "barge"}, headers=h
        ),
        _controller(api, "xa", commands.Reply(True, "barging")),
    )
    assert resp.status_code == 200
    assert (
        await api.client.put(
            "/api/dispatcher/cities/xa/overflow", json={"enabled": False}, headers=h
        )
    ).status_code == 200
    assert (
        await api.client.delete("/api/dispatcher/cities/xa/helpers/xy", headers=h)
    ).status_code == 200
    me = await api.client.get("/api/auth/me", headers=api.as_("seat2"))
    resp = await api.client.patch(
        f"/api/admin/users/{me.json()['user_id']}", json={"role": "qa"}, headers=api.role("admin")
    )
    assert resp.status_code == 200
    got = [(a.username, a.action, a.target, a.call_id, a.detail) for a in await _audit(api)]
    assert ("disp", "spy.barge", "seat:1001", "xa-c9", "supervisor 9001") in got
    assert ("disp", "overflow.switch", "city:xa", None, "off") in got
    assert ("disp", "overflow.helper", "city:xa", None, "-xy") in got
    assert ("admin", "user.update", f"user:{me.json()['user_id']}", None, "role seat->qa") in got


async def test_a_citys_dispatcher_cannot_switch_another_citys_overflow(api: Api) -> None:
    admin = api.role("admin")
    body = {"username": "disp_xy", "password": PASSWORD, "role": "dispatcher", "cities": ["xy"]}
    created = await api.client.post("/api/admin/users", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["cities"] == ["xy"]
    bad = body | {"username": "disp_zz", "cities": ["zz"]}
    assert (await api.client.post("/api/admin/users", json=bad, headers=admin)).status_code == 422
    token = (await api.login("disp_xy")).json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    off = {"enabled": False}
    resp = await api.client.put("/api/dispatcher/cities/xa/overflow", json=off, headers=h)
    assert resp.status_code == 403 and "xa" in resp.json()["detail"]
    assert (
        await api.client.put("/api/dispatcher/cities/xy/overflow", json=off, headers=h)
    ).is_success
    assert (
        await api.client.put("/api/dispatcher/cities/xa/helpers/xy", headers=h)
    ).status_code == 403
    assert (
        await api.client.put(
            "/api/dispatcher/seats/1001/skills", json={"skills": {"general": 2}}, headers=h
        )
    ).status_code == 403  # seat 1001 is a seat of xa
    cities = (await api.client.get("/api/dispatcher/cities", headers=h)).json()
    assert [c["city"] for c in cities] == ["xy"]
    # Unscoped dispatchers and admins act on every city, as before.
    assert (
        await api.client.put(
            "/api/dispatcher/cities/xa/overflow", json=off, headers=api.role("dispatcher")
        )
    ).is_success
    assert (
        await api.client.put("/api/dispatcher/cities/xa/overflow", json=off, headers=admin)
    ).is_success


# --- department directory -------------------------------------------------------------
async def test_department_names_and_duty_hours_are_validated(api: Api) -> None:
    h = api.role("admin")
    base = {"name": "市教育局", "number": "02987000014", "duty_hours": "08:30-17:30"}
    for bad, why in (
        ({"name": "市教育局\r\nINFO api: admin logged in"}, "换行"),
        ({"name": "evil\nname"}, "换行"),
        ({"duty_hours": "8-17"}, "08:30-17:30"),
        ({"duty_hours": "always"}, "08:30-17:30"),
        ({"duty_hours": "08:00-25:00"}, "超出"),
    ):
        resp = await api.client.post("/api/admin/departments", json=base | bad, headers=h)
        assert resp.status_code == 422, bad
        assert why in resp.text, (bad, resp.text)
    resp = await api.client.post(
        "/api/admin/departments", json=base | {"duty_hours": "9:00-17:00"}, headers=h
    )
    assert resp.status_code == 201 and resp.json()["duty_hours"] == "09:00-17:00"
